package route

import (
	"encoding/json"
	"fmt"
	"net/netip"
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

// expr is a compiled lua-resty-expr node: a logic node (opAnd, opOr with
// kids) or one [var, op, value] clause. neg is the '!' of "!AND", "!OR" or
// [var, "!", op, value]. It is kept small, with what only some operators
// need behind aux, because a table of many vars routes holds many of them.
type expr struct {
	op  exprOp
	neg bool
	// numOK: for >, >=, <, <= the right side converted to a number (in
	// val.n); false makes the clause always false, as tonumber's nil does.
	numOK bool
	v     varRef
	val   operand
	aux   *exprAux
	src   []any // the clause as written, for Explain
}

type exprAux struct {
	kids []expr
	re   *regexp.Regexp
	list []operand
	nets []netip.Prefix
}

func (e *expr) kids() []expr {
	if e.aux == nil {
		return nil
	}
	return e.aux.kids
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

// compileVars compiles a route's vars. An empty list is no condition
// (nil). The top level is either a list of clauses (implicitly AND) or a
// logic form ["OR", clause, clause, ...]; a bare clause must be wrapped in
// a list, as lua-resty-expr demands.
func compileVars(rule []any, ca *compileArena) (*expr, error) {
	if len(rule) == 0 {
		return nil, nil
	}
	if s, ok := rule[0].(string); ok {
		if _, _, logic := isLogic(s); !logic {
			return nil, fmt.Errorf("rule should be wrapped inside brackets: %s", render(rule))
		}
	}
	e, err := compileRule(rule, ca)
	if err != nil {
		return nil, err
	}
	return ca.newExpr(e), nil
}

func compileRule(rule []any, ca *compileArena) (expr, error) {
	if len(rule) == 0 {
		return expr{}, fmt.Errorf("rule too short: []")
	}
	switch first := rule[0].(type) {
	case []any:
		e := expr{op: opAnd, aux: ca.newAux(exprAux{kids: ca.takeExprs(len(rule))}), src: rule}
		for i, r := range rule {
			sub, ok := r.([]any)
			if !ok {
				return expr{}, fmt.Errorf("element %d of %s is not a list", i+1, render(rule))
			}
			k, err := compileRule(sub, ca)
			if err != nil {
				return expr{}, err
			}
			e.aux.kids = append(e.aux.kids, k)
		}
		return e, nil
	case string:
		op, neg, logic := isLogic(first)
		if !logic {
			return compileClause(rule, ca)
		}
		if len(rule) <= 2 {
			return expr{}, fmt.Errorf("rule too short: %s needs at least two operands", render(rule))
		}
		e := expr{op: op, neg: neg, aux: ca.newAux(exprAux{kids: ca.takeExprs(len(rule) - 1)}), src: rule}
		for _, r := range rule[1:] {
			sub, ok := r.([]any)
			if !ok {
				return expr{}, fmt.Errorf("operand %s of %s is not a list", render(r), first)
			}
			k, err := compileRule(sub, ca)
			if err != nil {
				return expr{}, err
			}
			e.aux.kids = append(e.aux.kids, k)
		}
		return e, nil
	}
	return expr{}, fmt.Errorf("invalid expression %s", render(rule))
}

// compileClause compiles [var, op, value], [var, "!", op, value] and the
// legacy [var, value] (meaning ==).
func compileClause(c []any, ca *compileArena) (expr, error) {
	e := expr{src: c}
	var l, op, r any
	switch len(c) {
	case 4:
		if s, _ := c[1].(string); s != "!" {
			return e, fmt.Errorf("bad 'not' expression %s", render(c))
		}
		e.neg = true
		l, op, r = c[0], c[2], c[3]
	case 3:
		l, op, r = c[0], c[1], c[2]
	case 2:
		l, op = c[0], c[1]
	default:
		return e, fmt.Errorf("invalid expression %s", render(c))
	}
	name, ok := l.(string)
	if !ok || name == "" {
		return e, fmt.Errorf("invalid expression %s: variable must be a string", render(c))
	}
	ops, ok := op.(string)
	if !ok {
		if len(c) != 2 {
			return e, fmt.Errorf("invalid expression %s: operator must be a string", render(c))
		}
		ops, r = "==", op // [var, value] with a non-string value
	}
	code, known := opCode(ops)
	if !known {
		if len(c) != 2 {
			return e, fmt.Errorf("invalid operator '%s' in %s", ops, render(c))
		}
		code, r = opEq, ops // legacy [var, value]
	}
	e.op = code
	e.v = ca.varRef(name)
	switch code {
	case opEq, opNe, opHas:
		e.val = toOperand(r)
	case opGt, opGe, opLt, opLe:
		e.val = toOperand(r)
		switch e.val.kind {
		case valNum:
			e.numOK = true
		case valStr:
			e.val.n, e.numOK = toNumber([]byte(e.val.s))
		}
	case opRe, opReI:
		s, ok := r.(string)
		if !ok {
			return e, fmt.Errorf("%s needs a regex string in %s", ops, render(c))
		}
		if code == opReI {
			s = "(?i)" + s
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return e, fmt.Errorf("regex in %s: %v (Go's RE2 syntax: no look-around or back-references)", render(c), err)
		}
		e.aux = ca.newAux(exprAux{re: re})
	case opIn:
		list, ok := r.([]any)
		if !ok {
			return e, fmt.Errorf("in needs a list in %s", render(c))
		}
		e.aux = ca.newAux(exprAux{list: ca.takeOps(len(list))})
		for _, x := range list {
			e.aux.list = append(e.aux.list, toOperand(x))
		}
	case opIPMat:
		var list []any
		switch x := r.(type) {
		case string:
			list = []any{x}
		case []any:
			list = x
		default:
			return e, fmt.Errorf("ipmatch needs an address or a list in %s", render(c))
		}
		e.aux = ca.newAux(exprAux{nets: ca.takeNets(len(list))})
		for _, x := range list {
			s, ok := x.(string)
			if !ok {
				return e, fmt.Errorf("ipmatch: %s is not an address in %s", render(x), render(c))
			}
			p, err := parseAddrOrPrefix(s)
			if err != nil {
				return e, fmt.Errorf("ipmatch: %v in %s", err, render(c))
			}
			e.aux.nets = append(e.aux.nets, p)
		}
	}
	return e, nil
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
