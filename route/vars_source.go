package route

import (
	"bytes"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// VarKind says which part of the request a Vars lookup reads.
type VarKind uint8

const (
	// VarNamed is any other request variable by its nginx/APISIX name:
	// "scheme", "server_port", "request_uri", "server_addr", ...
	VarNamed VarKind = iota
	// VarArg is a query argument by name (arg_<name>): its first
	// occurrence, undecoded, as nginx gives it.
	VarArg
	// VarHeader is a request header by name (http_<name>), the name
	// lowercased with '_' turned into '-': "x-api-key". Compare names
	// case-insensitively.
	VarHeader
	// VarCookie is a cookie's value by name (cookie_<name>).
	VarCookie
	// VarBody is the request body read so far (name is empty). post_arg
	// variables parse it as a form or as JSON, by Content-Type.
	VarBody
)

// Vars is what the L7 pipeline implements over its parsed request so that
// vars expressions can read it. A returned slice is only read until Var is
// called again or Lookup returns; it may point into the connection's read
// buffer. ok is false when the variable is absent, which lua-resty-expr
// tells apart from an empty value. The request's uri, host, method and
// remote address come from Request itself, not from Vars.
type Vars interface {
	Var(kind VarKind, name string) (value []byte, ok bool)
}

// varSrc is where a compiled variable name is read from.
type varSrc uint8

const (
	srcURI varSrc = iota
	srcHost
	srcMethod
	srcRemoteAddr
	srcPostArg
	srcVars // through the Vars interface, with kind
)

// varRef is a variable name resolved at build time, so that evaluation
// never parses "http_x_api_key" again.
type varRef struct {
	src  varSrc
	kind VarKind
	name string
}

func parseVarRef(name string) varRef {
	switch name {
	case "uri":
		return varRef{src: srcURI}
	case "host":
		return varRef{src: srcHost}
	case "request_method":
		return varRef{src: srcMethod}
	case "remote_addr":
		return varRef{src: srcRemoteAddr}
	}
	switch {
	case strings.HasPrefix(name, "arg_"):
		return varRef{src: srcVars, kind: VarArg, name: name[4:]}
	case strings.HasPrefix(name, "http_"):
		return varRef{src: srcVars, kind: VarHeader, name: strings.ReplaceAll(strings.ToLower(name[5:]), "_", "-")}
	case strings.HasPrefix(name, "cookie_"):
		return varRef{src: srcVars, kind: VarCookie, name: name[7:]}
	case strings.HasPrefix(name, "post_arg.") || strings.HasPrefix(name, "post_arg_"):
		// "post_arg_" is APISIX 2.x's form-only spelling; both read the body.
		return varRef{src: srcPostArg, name: name[9:]}
	}
	return varRef{src: srcVars, kind: VarNamed, name: name}
}

// varVal is a variable's value during one clause. JSON body values keep
// their JSON type, which lua-resty-expr sees as Lua types (a number is
// not equal to a string there).
// A JSON value lives in the Match's scratch (j points there), which keeps
// varVal small enough to return cheaply on every clause.
type varVal struct {
	ok   bool
	json bool
	text []byte
	j    *gjson.Result
}

func (v *varVal) isString() bool { return v.ok && (!v.json || v.j.Type == gjson.String) }

func (v *varVal) number() (float64, bool) {
	if !v.ok {
		return 0, false
	}
	if v.json {
		switch v.j.Type {
		case gjson.Number:
			return v.j.Num, true
		case gjson.String:
		default:
			return 0, false
		}
	}
	return toNumber(v.text)
}

// bytesView reads b as a string without copying, for calls that do not
// keep their argument (strconv, netip, gjson over a body that outlives the
// call).
func bytesView(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func stringView(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func (ref *varRef) get(req *Request, m *Match) varVal {
	var v varVal
	getVar(&v, ref.src, ref.kind, ref.name, req, m)
	return v
}

// getVar sets *v (which starts zero) to a variable's value. It fills a
// pointer rather than returning a varVal: a returned struct is written a
// field at a time and then copied whole, and the copy's wide loads stall
// on the narrow stores just made.
func getVar(v *varVal, src varSrc, kind VarKind, name string, req *Request, m *Match) {
	switch src {
	case srcURI:
		v.ok, v.text = true, req.Path
	case srcHost:
		v.ok, v.text = true, req.Host
	case srcMethod:
		v.ok, v.text = true, req.Method
	case srcRemoteAddr:
		if req.RemoteAddr.IsValid() {
			m.buf = req.RemoteAddr.Unmap().AppendTo(m.buf[:0])
			v.ok, v.text = true, m.buf
		}
	case srcPostArg:
		postArg(v, name, req, m)
	default:
		if req.Vars != nil {
			v.text, v.ok = req.Vars.Var(kind, name)
		}
	}
}

// postArg reads a body field as APISIX's post_arg does: form fields for
// application/x-www-form-urlencoded, a gjson path for JSON bodies.
func postArg(v *varVal, name string, req *Request, m *Match) {
	if req.Vars == nil {
		return
	}
	ct, ok := req.Vars.Var(VarHeader, "content-type")
	if !ok {
		return
	}
	switch {
	case hasPrefixFold(ct, "application/x-www-form-urlencoded"):
		body, _ := req.Vars.Var(VarBody, "")
		v.text, v.ok = formValue(body, name, m)
	case containsFold(ct, "json"):
		body, _ := req.Vars.Var(VarBody, "")
		m.jv = gjson.Get(bytesView(body), name)
		r := &m.jv
		if !r.Exists() || r.Type == gjson.Null {
			return
		}
		v.ok, v.json, v.j = true, true, r
		if r.Type == gjson.String {
			v.text = stringView(r.Str)
		} else {
			v.text = stringView(r.Raw)
		}
	}
}

func hasPrefixFold(b []byte, lower string) bool {
	return len(b) >= len(lower) && equalFold(b[:len(lower)], lower)
}

func containsFold(b []byte, lower string) bool {
	for i := 0; i+len(lower) <= len(b); i++ {
		if equalFold(b[i:i+len(lower)], lower) {
			return true
		}
	}
	return false
}

// formValue finds the first field called name in a urlencoded body and
// returns its decoded value in m's scratch buffer.
func formValue(body []byte, name string, m *Match) ([]byte, bool) {
	for len(body) > 0 {
		var pair []byte
		if i := bytes.IndexByte(body, '&'); i >= 0 {
			pair, body = body[:i], body[i+1:]
		} else {
			pair, body = body, nil
		}
		k, v := pair, []byte(nil)
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			k, v = pair[:i], pair[i+1:]
		}
		m.buf = unescapeForm(m.buf[:0], k)
		if string(m.buf) != name {
			continue
		}
		m.buf = unescapeForm(m.buf[:0], v)
		return m.buf, true
	}
	return nil, false
}

// unescapeForm appends the form-decoding of s ('+' is a space, %XX a byte;
// a malformed escape is kept as written, as ngx's get_post_args does).
func unescapeForm(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		dst = append(dst, c)
	}
	return dst
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
