package route

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// exprOp is a logic node or a comparison operator of lua-resty-expr.
type exprOp uint8

const (
	opAnd exprOp = iota
	opOr
	opEq    // ==
	opNe    // ~=
	opGt    // >
	opGe    // >=
	opLt    // <
	opLe    // <=
	opRe    // ~~
	opReI   // ~*
	opIn    // in
	opHas   // has
	opIPMat // ipmatch
)

// opCode maps an operator to its code; lua-resty-expr lowercases
// operators first, so "IN" and "IPMATCH" are accepted.
func opCode(s string) (exprOp, bool) {
	switch s {
	case "==":
		return opEq, true
	case "~=":
		return opNe, true
	case ">":
		return opGt, true
	case ">=":
		return opGe, true
	case "<":
		return opLt, true
	case "<=":
		return opLe, true
	case "~~":
		return opRe, true
	case "~*":
		return opReI, true
	}
	switch {
	case strings.EqualFold(s, "in"):
		return opIn, true
	case strings.EqualFold(s, "has"):
		return opHas, true
	case strings.EqualFold(s, "ipmatch"):
		return opIPMat, true
	}
	return 0, false
}

// valKind is the JSON type of a right-hand value or a list element.
type valKind uint8

const (
	valNil valKind = iota
	valStr
	valNum
	valBool
	valOther // an array or object: equal to nothing, as a Lua table would be
)

// operand is a right-hand value while it is compiled; the program holds
// it encoded (appendOperand).
type operand struct {
	kind valKind
	s    string
	n    float64 // the number, or 1/0 for a bool
}

func toOperand(v any) operand {
	switch x := v.(type) {
	case nil:
		return operand{kind: valNil}
	case string:
		return operand{kind: valStr, s: x}
	case bool:
		if x {
			return operand{kind: valBool, n: 1}
		}
		return operand{kind: valBool}
	case float64:
		return operand{kind: valNum, n: x}
	case float32:
		return operand{kind: valNum, n: float64(x)}
	case int:
		return operand{kind: valNum, n: float64(x)}
	case int64:
		return operand{kind: valNum, n: float64(x)}
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return operand{kind: valNum, n: f}
		}
		return operand{kind: valStr, s: string(x)}
	}
	return operand{kind: valOther}
}

func isLogic(s string) (op exprOp, neg, ok bool) {
	if neg = strings.HasPrefix(s, "!"); neg {
		s = s[1:]
	}
	switch {
	case strings.EqualFold(s, "AND"):
		return opAnd, neg, true
	case strings.EqualFold(s, "OR"):
		return opOr, neg, true
	}
	return 0, false, false
}

// progBuf is a vars program being compiled (vars_prog.go has the layout):
// its instructions, the bytes they refer to, and the regexps they refer to
// by index.
type progBuf struct {
	ops  []vop
	pool []byte
	res  []*regexp.Regexp
	ca   *compileArena
}

// compileVars compiles a route's vars. An empty list is no condition
// and compiles to nothing. The top level is either a list of clauses
// (implicitly AND) or a logic form ["OR", clause, clause, ...]; a bare
// clause must be wrapped in a list, as lua-resty-expr demands.
func (pb *progBuf) compileVars(rule []any) error {
	if len(rule) == 0 {
		return nil
	}
	if s, ok := rule[0].(string); ok {
		if _, _, logic := isLogic(s); !logic {
			return fmt.Errorf("rule should be wrapped inside brackets: %s", render(rule))
		}
	}
	if err := pb.rule(rule); err != nil {
		return err
	}
	if len(pb.ops) > math.MaxInt32/vopSize || len(pb.pool) > math.MaxUint32 {
		return fmt.Errorf("expression too large")
	}
	return nil
}

// open starts a node and returns its index; close ends it.
func (pb *progBuf) open(op exprOp, flags byte) int {
	pb.ops = append(pb.ops, vop{op: op, flags: flags})
	return len(pb.ops) - 1
}

func (pb *progBuf) close(at int) { pb.ops[at].next = uint32(len(pb.ops)) }

// str puts s in the pool and returns its offset and length.
func (pb *progBuf) str(s string) (uint32, uint32) {
	off := len(pb.pool)
	pb.pool = append(pb.pool, s...)
	return uint32(off), uint32(len(s))
}

func (pb *progBuf) rule(rule []any) error {
	if len(rule) == 0 {
		return fmt.Errorf("rule too short: []")
	}
	switch first := rule[0].(type) {
	case []any:
		at := pb.open(opAnd, 0)
		for i, r := range rule {
			sub, ok := r.([]any)
			if !ok {
				return fmt.Errorf("element %d of %s is not a list", i+1, render(rule))
			}
			if err := pb.rule(sub); err != nil {
				return err
			}
		}
		pb.close(at)
		return nil
	case string:
		op, neg, logic := isLogic(first)
		if !logic {
			return pb.clause(rule)
		}
		if len(rule) <= 2 {
			return fmt.Errorf("rule too short: %s needs at least two operands", render(rule))
		}
		var flags byte
		if neg {
			flags = flNeg
		}
		at := pb.open(op, flags)
		for _, r := range rule[1:] {
			sub, ok := r.([]any)
			if !ok {
				return fmt.Errorf("operand %s of %s is not a list", render(r), first)
			}
			if err := pb.rule(sub); err != nil {
				return err
			}
		}
		pb.close(at)
		return nil
	}
	return fmt.Errorf("invalid expression %s", render(rule))
}

// clause compiles [var, op, value], [var, "!", op, value] and the legacy
// [var, value] (meaning ==).
func (pb *progBuf) clause(c []any) error {
	var l, op, r any
	var flags byte
	switch len(c) {
	case 4:
		if s, _ := c[1].(string); s != "!" {
			return fmt.Errorf("bad 'not' expression %s", render(c))
		}
		flags = flNeg
		l, op, r = c[0], c[2], c[3]
	case 3:
		l, op, r = c[0], c[1], c[2]
	case 2:
		l, op = c[0], c[1]
	default:
		return fmt.Errorf("invalid expression %s", render(c))
	}
	name, ok := l.(string)
	if !ok || name == "" {
		return fmt.Errorf("invalid expression %s: variable must be a string", render(c))
	}
	ops, ok := op.(string)
	if !ok {
		if len(c) != 2 {
			return fmt.Errorf("invalid expression %s: operator must be a string", render(c))
		}
		ops, r = "==", op // [var, value] with a non-string value
	}
	code, known := opCode(ops)
	if !known {
		if len(c) != 2 {
			return fmt.Errorf("invalid operator '%s' in %s", ops, render(c))
		}
		code, r = opEq, ops // legacy [var, value]
	}
	ref := pb.ca.varRef(name)
	at := pb.open(code, flags)
	h := &pb.ops[at]
	h.src, h.kind = ref.src, ref.kind
	h.a, h.b = pb.str(ref.name)
	switch code {
	case opEq, opNe, opHas:
		pb.operand(toOperand(r))
	case opGt, opGe, opLt, opLe:
		v := toOperand(r)
		numOK := false
		switch v.kind {
		case valNum:
			numOK = true
		case valStr:
			v.n, numOK = toNumber([]byte(v.s))
		}
		if numOK {
			pb.ops[at].flags |= flNumOK
		}
		pb.operand(operand{kind: valNum, n: v.n})
	case opRe, opReI:
		s, ok := r.(string)
		if !ok {
			return fmt.Errorf("%s needs a regex string in %s", ops, render(c))
		}
		if code == opReI {
			s = "(?i)" + s
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return fmt.Errorf("regex in %s: %v (Go's RE2 syntax: no look-around or back-references)", render(c), err)
		}
		pb.ops = append(pb.ops, vop{a: uint32(len(pb.res))})
		pb.res = append(pb.res, re)
	case opIn:
		list, ok := r.([]any)
		if !ok {
			return fmt.Errorf("in needs a list in %s", render(c))
		}
		for _, x := range list {
			pb.operand(toOperand(x))
		}
	case opIPMat:
		var list []any
		switch x := r.(type) {
		case string:
			list = []any{x}
		case []any:
			list = x
		default:
			return fmt.Errorf("ipmatch needs an address or a list in %s", render(c))
		}
		off := len(pb.pool)
		for _, x := range list {
			s, ok := x.(string)
			if !ok {
				return fmt.Errorf("ipmatch: %s is not an address in %s", render(x), render(c))
			}
			p, err := parseAddrOrPrefix(s)
			if err != nil {
				return fmt.Errorf("ipmatch: %v in %s", err, render(c))
			}
			pb.pool = appendPrefix(pb.pool, p)
		}
		pb.ops = append(pb.ops, vop{a: uint32(off), b: uint32(len(list))})
	}
	pb.close(at)
	return nil
}

// operand appends o as one instruction: its kind in op, a string's pool
// offset and length or a number's (a bool's 1 or 0) float64 bits in a, b.
func (pb *progBuf) operand(o operand) {
	v := vop{op: exprOp(o.kind)}
	switch o.kind {
	case valStr:
		v.a, v.b = pb.str(o.s)
	case valNum, valBool:
		bits := math.Float64bits(o.n)
		v.a, v.b = uint32(bits), uint32(bits>>32)
	}
	pb.ops = append(pb.ops, v)
}

// finish appends the program to b, 8-aligned from b's start (which the
// caller keeps 8-aligned in memory), so that its instructions can be read
// in place.
func (pb *progBuf) finish(b []byte) []byte {
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	start := len(b)
	b = binary.NativeEndian.AppendUint32(b, uint32(len(pb.ops)))
	b = append(b, 0, 0, 0, 0)
	b = append(b, make([]byte, vopSize*len(pb.ops))...)
	copy(progOps(b[start:]), pb.ops)
	b = append(b, pb.pool...)
	return append(b, 0)
}

// toNumber is Lua's tonumber on a string: surrounding blanks allowed,
// decimal or 0x-hex, no inf/nan (which strconv would accept).
func toNumber(b []byte) (float64, bool) {
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isBlank(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return 0, false
	}
	neg := false
	d := b
	if d[0] == '-' || d[0] == '+' {
		neg = d[0] == '-'
		d = d[1:]
	}
	if len(d) > 2 && d[0] == '0' && (d[1] == 'x' || d[1] == 'X') {
		var v float64
		for _, c := range d[2:] {
			var x byte
			switch {
			case c >= '0' && c <= '9':
				x = c - '0'
			case c >= 'a' && c <= 'f':
				x = c - 'a' + 10
			case c >= 'A' && c <= 'F':
				x = c - 'A' + 10
			default:
				return 0, false
			}
			v = v*16 + float64(x)
		}
		if neg {
			v = -v
		}
		return v, true
	}
	if !decimalSyntax(d) {
		return 0, false
	}
	// Out of range gives ±Inf and an error; Lua also yields inf there.
	v, _ := strconv.ParseFloat(bytesView(b), 64)
	return v, true
}

// decimalSyntax accepts what Lua's tonumber does in decimal: digits with
// at most one '.', then an optional exponent. Checking first lets
// strconv parse a view of the request bytes without ever building an error
// (which would allocate) and without accepting "inf", "nan" or "1_0".
func decimalSyntax(d []byte) bool {
	i, digits := 0, 0
	for ; i < len(d) && d[i] >= '0' && d[i] <= '9'; i++ {
		digits++
	}
	if i < len(d) && d[i] == '.' {
		i++
		for ; i < len(d) && d[i] >= '0' && d[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '-' || d[i] == '+') {
			i++
		}
		start := i
		for ; i < len(d) && d[i] >= '0' && d[i] <= '9'; i++ {
		}
		if i == start {
			return false
		}
	}
	return i == len(d)
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// render prints a clause as JSON for errors and Explain.
func render(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
