package route

import (
	"net/netip"
	"regexp"

	"github.com/tidwall/gjson"
)

// vm is one evaluation of a vars program: what every instruction needs,
// passed as one pointer rather than as ten argument words that would be
// spilled on every call.
type vm struct {
	ops  []vop
	pool []byte
	res  *[]*regexp.Regexp
	req  *Request
	m    *Match
}

// evalTop evaluates the vars program p (vars_prog.go), whose regexps are
// *res (a pointer, so that programs without regexps never load them).
// When the top level is an AND of clauses (the usual [[...], [...]] form)
// a false result names the 1-based clause that failed, which Explain
// reports.
func evalTop(p []byte, res *[]*regexp.Regexp, req *Request, m *Match) (bool, int) {
	ops := progOps(p)
	if len(ops) == 0 {
		return false, 0
	}
	c := vm{ops: ops, pool: progPool(p, ops), res: res, req: req, m: m}
	if top := &ops[0]; top.op == opAnd && top.flags&flNeg == 0 {
		for i, k := 1, 1; i < int(top.next); k++ {
			o := &ops[i]
			var ok bool
			if o.op > opOr {
				ok = c.clause(o, i) != (o.flags&flNeg != 0)
			} else {
				ok = c.eval(i)
			}
			if !ok {
				return false, k
			}
			i = int(o.next)
		}
		return true, 0
	}
	return c.eval(0), 0
}

// eval evaluates node i.
func (c *vm) eval(i int) bool {
	o := &c.ops[i]
	neg := o.flags&flNeg != 0
	switch o.op {
	case opAnd:
		for j := i + 1; j < int(o.next); j = int(c.ops[j].next) {
			if !c.eval(j) {
				return neg
			}
		}
		return !neg
	case opOr:
		for j := i + 1; j < int(o.next); j = int(c.ops[j].next) {
			if c.eval(j) {
				return !neg
			}
		}
		return neg
	}
	return c.clause(o, i) != neg
}

// clause evaluates the clause o at i, without its negation. It is
// lua-resty-expr's compare_funcs with Lua's typing: a variable is a string
// unless it came from a JSON body; a numeric right side makes == and ~=
// compare numbers. The operand instructions follow o, up to o.next.
func (c *vm) clause(o *vop, i int) bool {
	args := c.ops[i+1 : o.next]
	if o.op == opIPMat && o.src == srcRemoteAddr {
		// The address is already parsed; printing and re-parsing it
		// would cost more than the rest of the clause.
		return c.req.RemoteAddr.IsValid() && prefixesHave(c.pool[args[0].a:], int(args[0].b), c.req.RemoteAddr)
	}
	var l varVal
	name := bytesView(o.str(c.pool))
	if o.src == srcVars {
		if c.req.Vars != nil {
			l.text, l.ok = c.req.Vars.Var(o.kind, name)
		}
	} else {
		getVar(&l, o.src, o.kind, name, c.req, c.m)
	}
	switch o.op {
	case opEq:
		return equalVal(&l, &args[0], c.pool)
	case opNe:
		return !equalVal(&l, &args[0], c.pool)
	case opGt, opGe, opLt, opLe:
		if o.flags&flNumOK == 0 {
			return false
		}
		n, ok := l.number()
		if !ok {
			return false
		}
		r := args[0].f64()
		switch o.op {
		case opGt:
			return n > r
		case opGe:
			return n >= r
		case opLt:
			return n < r
		}
		return n <= r
	case opRe, opReI:
		if !l.ok || l.json && l.j.Type != gjson.String && l.j.Type != gjson.Number {
			return false
		}
		return (*c.res)[args[0].a].Match(l.text)
	case opIn:
		for k := range args {
			if sameVal(&l, &args[k], c.pool) {
				return true
			}
		}
		return false
	case opHas:
		return hasVal(&l, &args[0], c.pool)
	case opIPMat:
		if !l.ok || !l.isString() {
			return false
		}
		a, err := netip.ParseAddr(bytesView(l.text))
		if err != nil {
			return false
		}
		return prefixesHave(c.pool[args[0].a:], int(args[0].b), a)
	}
	return false
}

// hasVal is lua-resty-expr's has: a JSON array holding r.
func hasVal(l *varVal, r *vop, pool []byte) bool {
	if !l.ok || !l.json || !l.j.IsArray() {
		return false
	}
	found := false
	l.j.ForEach(func(_, el gjson.Result) bool {
		ev := varVal{ok: el.Type != gjson.Null, json: true, j: &el}
		if el.Type == gjson.String {
			ev.text = stringView(el.Str)
		} else {
			ev.text = stringView(el.Raw)
		}
		found = sameVal(&ev, r, pool)
		return !found
	})
	return found
}

// equalVal is Lua's == after expr's tonumber on a numeric right side.
func equalVal(l *varVal, r *vop, pool []byte) bool {
	if valKind(r.op) == valNum {
		n, ok := l.number()
		return ok && n == r.f64()
	}
	return sameVal(l, r, pool)
}

// sameVal is Lua's raw ==: equal types and equal values; nil equals an
// absent variable. r is an operand instruction.
func sameVal(l *varVal, r *vop, pool []byte) bool {
	switch valKind(r.op) {
	case valNil:
		return !l.ok
	case valStr:
		return l.isString() && string(l.text) == bytesView(r.str(pool))
	case valNum:
		return l.ok && l.json && l.j.Type == gjson.Number && l.j.Num == r.f64()
	case valBool:
		b := r.f64()
		return l.ok && l.json && (l.j.Type == gjson.True && b == 1 || l.j.Type == gjson.False && b == 0)
	}
	return false
}
