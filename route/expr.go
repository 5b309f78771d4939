package route

import (
	"regexp"
	"unsafe"
)

// Expr is a compiled vars expression (lua-resty-expr), the same language
// as a route's vars, for other users of request variables: plugins'
// _meta.filter and traffic-split's match rules. It is immutable and safe
// for concurrent use.
type Expr struct {
	prog []byte // vars_prog.go
	res  []*regexp.Regexp
}

// CompileExpr compiles rule; an empty rule is nil, which matches
// everything.
func CompileExpr(rule []any) (*Expr, error) {
	if len(rule) == 0 {
		return nil, nil
	}
	pb := progBuf{}
	if err := pb.compileVars(rule); err != nil {
		return nil, err
	}
	return &Expr{prog: pb.finish(nil), res: pb.res}, nil
}

// Eval reports whether req satisfies x. m is scratch space (any Match the
// caller owns; its result fields are not touched). A nil Expr is true.
func (x *Expr) Eval(req *Request, m *Match) bool {
	if x == nil {
		return true
	}
	ok, _ := evalTop(unsafe.Pointer(&x.prog[0]), &x.res, req, m)
	return ok
}

// Var is a request variable name resolved once ("remote_addr",
// "http_x_api_key", "arg_id", "cookie_sid", "uri", ...), for plugins
// that key on a variable (limit-count's key, chash-like choices).
type Var struct{ ref varRef }

// ParseVar resolves name.
func ParseVar(name string) Var { return Var{ref: parseVarRef(name)} }

// Get reads the variable. The value is a view valid until the next Get
// with the same m, or until the request's buffers change; ok is false
// when the variable is absent.
func (v *Var) Get(req *Request, m *Match) ([]byte, bool) {
	val := v.ref.get(req, m)
	if !val.ok {
		return nil, false
	}
	if val.json {
		return stringView(val.j.Raw), true
	}
	return val.text, true
}
