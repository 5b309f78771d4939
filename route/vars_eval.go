package route

import (
	"net/netip"
	"regexp"
	"unsafe"

	"github.com/tidwall/gjson"
)

// vm is one evaluation of a vars program (vars_prog.go). It reads the
// program in place, unchecked: the program is immutable and its compiler
// wrote every index and offset in it, so a bounds check per read would
// only re-prove that (and they cost about as much as the clauses' work).
type vm struct {
	ops  unsafe.Pointer // instruction 0
	pool unsafe.Pointer // pool byte 0
	res  *[]*regexp.Regexp
	req  *Request
	m    *Match
}

func (c *vm) op(i uint32) *vop { return (*vop)(unsafe.Add(c.ops, uintptr(i)*vopSize)) }

// str returns the pool bytes at off, n long, as a string view.
func (c *vm) str(off, n uint32) string { return unsafe.String((*byte)(unsafe.Add(c.pool, off)), n) }

// evalTop evaluates the vars program at p, whose regexps are *res (a
// pointer, so that programs without regexps never load them). When the top
// level is an AND of clauses (the usual [[...], [...]] form) a false
// result names the 1-based clause that failed, which Explain reports.
func evalTop(p unsafe.Pointer, res *[]*regexp.Regexp, req *Request, m *Match) (bool, int) {
	n := *(*uint32)(p)
	c := vm{ops: unsafe.Add(p, 8), pool: unsafe.Add(p, 8+uintptr(n)*vopSize), res: res, req: req, m: m}
	if top := c.op(0); top.op == opAnd && top.flags&flNeg == 0 {
		k := 1
		for i := uint32(1); i < top.next; k++ {
			o := c.op(i)
			var ok bool
			if o.op > opOr {
				ok = c.clause(o, i) != (o.flags&flNeg != 0)
			} else {
				ok = c.eval(i)
			}
			if !ok {
				return false, k
			}
			i = o.next
		}
		return true, 0
	}
	return c.eval(0), 0
}

// eval evaluates node i.
func (c *vm) eval(i uint32) bool {
	o := c.op(i)
	neg := o.flags&flNeg != 0
	switch o.op {
	case opAnd:
		for j := i + 1; j < o.next; j = c.op(j).next {
			if !c.eval(j) {
				return neg
			}
		}
		return !neg
	case opOr:
		for j := i + 1; j < o.next; j = c.op(j).next {
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
// compare numbers. The operand instructions follow o, up to o.next (only
// in may have none).
func (c *vm) clause(o *vop, i uint32) bool {
	if o.op == opIPMat && o.src == srcRemoteAddr {
		// The address is already parsed; printing and re-parsing it
		// would cost more than the rest of the clause.
		arg := c.op(i + 1)
		return c.req.RemoteAddr.IsValid() && prefixesHave(unsafe.Add(c.pool, arg.a), arg.b, c.req.RemoteAddr)
	}
	var l varVal
	name := c.str(o.a, o.b)
	if o.src == srcVars {
		if c.req.Vars != nil {
			l.text, l.ok = c.req.Vars.Var(o.kind, name)
		}
	} else {
		getVar(&l, o.src, o.kind, name, c.req, c.m)
	}
	switch o.op {
	case opEq:
		return c.equal(&l, c.op(i+1))
	case opNe:
		return !c.equal(&l, c.op(i+1))
	case opGt, opGe, opLt, opLe:
		if o.flags&flNumOK == 0 {
			return false
		}
		n, ok := l.number()
		if !ok {
			return false
		}
		r := c.op(i + 1).f64()
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
		return (*c.res)[c.op(i+1).a].Match(l.text)
	case opIn:
		for j := i + 1; j < o.next; j++ {
			if c.same(&l, c.op(j)) {
				return true
			}
		}
		return false
	case opHas:
		return c.has(&l, c.op(i+1))
	case opIPMat:
		if !l.ok || !l.isString() {
			return false
		}
		a, err := netip.ParseAddr(bytesView(l.text))
		if err != nil {
			return false
		}
		arg := c.op(i + 1)
		return prefixesHave(unsafe.Add(c.pool, arg.a), arg.b, a)
	}
	return false
}

// has is lua-resty-expr's has: a JSON array holding r.
func (c *vm) has(l *varVal, r *vop) bool {
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
		found = c.same(&ev, r)
		return !found
	})
	return found
}

// equal is Lua's == after expr's tonumber on a numeric right side.
func (c *vm) equal(l *varVal, r *vop) bool {
	if valKind(r.op) == valNum {
		n, ok := l.number()
		return ok && n == r.f64()
	}
	return c.same(l, r)
}

// same is Lua's raw ==: equal types and equal values; nil equals an
// absent variable. r is an operand instruction.
func (c *vm) same(l *varVal, r *vop) bool {
	switch valKind(r.op) {
	case valNil:
		return !l.ok
	case valStr:
		return l.isString() && string(l.text) == c.str(r.a, r.b)
	case valNum:
		return l.ok && l.json && l.j.Type == gjson.Number && l.j.Num == r.f64()
	case valBool:
		b := r.f64()
		return l.ok && l.json && (l.j.Type == gjson.True && b == 1 || l.j.Type == gjson.False && b == 0)
	}
	return false
}
