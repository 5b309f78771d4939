package route

import (
	"net/netip"

	"github.com/tidwall/gjson"
)

// evalTop evaluates a route's vars. When the top level is an AND of
// clauses (the usual [[...], [...]] form) a false result names the 1-based
// clause that failed, which Explain reports.
func (e *expr) evalTop(req *Request, m *Match) (bool, int) {
	if kids := e.kids(); e.op == opAnd && !e.neg && kids != nil {
		for i := range kids {
			if !kids[i].eval(req, m) {
				return false, i + 1
			}
		}
		return true, 0
	}
	return e.eval(req, m), 0
}

func (e *expr) eval(req *Request, m *Match) bool {
	switch e.op {
	case opAnd:
		kids := e.aux.kids
		for i := range kids {
			if !kids[i].eval(req, m) {
				return e.neg
			}
		}
		return !e.neg
	case opOr:
		kids := e.aux.kids
		for i := range kids {
			if kids[i].eval(req, m) {
				return !e.neg
			}
		}
		return e.neg
	}
	if e.op == opIPMat && e.v.src == srcRemoteAddr {
		// The address is already parsed; printing and re-parsing it
		// would cost more than the rest of the clause.
		return (req.RemoteAddr.IsValid() && containsAddr(e.aux.nets, req.RemoteAddr)) != e.neg
	}
	v := e.v.get(req, m)
	return e.compare(&v) != e.neg
}

// compare is lua-resty-expr's compare_funcs with Lua's typing: a variable
// is a string unless it came from a JSON body; a numeric right side makes
// == and ~= compare numbers.
func (e *expr) compare(l *varVal) bool {
	switch e.op {
	case opEq:
		return equalVal(l, &e.val)
	case opNe:
		return !equalVal(l, &e.val)
	case opGt, opGe, opLt, opLe:
		if !e.numOK {
			return false
		}
		n, ok := l.number()
		if !ok {
			return false
		}
		switch e.op {
		case opGt:
			return n > e.val.n
		case opGe:
			return n >= e.val.n
		case opLt:
			return n < e.val.n
		}
		return n <= e.val.n
	case opRe, opReI:
		if !l.ok || l.json && l.j.Type != gjson.String && l.j.Type != gjson.Number {
			return false
		}
		return e.aux.re.Match(l.text)
	case opIn:
		for i := range e.aux.list {
			if sameVal(l, &e.aux.list[i]) {
				return true
			}
		}
		return false
	case opHas:
		if !l.ok || !l.json || !l.j.IsArray() {
			return false
		}
		found := false
		l.j.ForEach(func(_, el gjson.Result) bool {
			ev := varVal{ok: el.Type != gjson.Null, json: true, j: el}
			if el.Type == gjson.String {
				ev.text = stringView(el.Str)
			} else {
				ev.text = stringView(el.Raw)
			}
			found = sameVal(&ev, &e.val)
			return !found
		})
		return found
	case opIPMat:
		if !l.ok || !l.isString() {
			return false
		}
		a, err := netip.ParseAddr(bytesView(l.text))
		if err != nil {
			return false
		}
		return containsAddr(e.aux.nets, a)
	}
	return false
}

// equalVal is Lua's == after expr's tonumber on a numeric right side.
func equalVal(l *varVal, r *operand) bool {
	if r.kind == valNum {
		n, ok := l.number()
		return ok && n == r.n
	}
	return sameVal(l, r)
}

// sameVal is Lua's raw ==: equal types and equal values; nil equals an
// absent variable.
func sameVal(l *varVal, r *operand) bool {
	switch r.kind {
	case valNil:
		return !l.ok
	case valStr:
		return l.isString() && string(l.text) == r.s
	case valNum:
		return l.ok && l.json && l.j.Type == gjson.Number && l.j.Num == r.n
	case valBool:
		return l.ok && l.json && (l.j.Type == gjson.True && r.n == 1 || l.j.Type == gjson.False && r.n == 0)
	}
	return false
}
