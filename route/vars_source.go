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
type varVal struct {
	ok   bool
	text []byte
	json bool
	j    gjson.Result
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
	switch ref.src {
	case srcURI:
		return varVal{ok: true, text: req.Path}
	case srcHost:
		return varVal{ok: true, text: req.Host}
	case srcMethod:
		return varVal{ok: true, text: req.Method}
	case srcRemoteAddr:
		if !req.RemoteAddr.IsValid() {
			return varVal{}
		}
		m.buf = req.RemoteAddr.Unmap().AppendTo(m.buf[:0])
		return varVal{ok: true, text: m.buf}
	case srcPostArg:
		return postArg(ref.name, req, m)
	}
	if req.Vars == nil {
		return varVal{}
	}
	b, ok := req.Vars.Var(ref.kind, ref.name)
	return varVal{ok: ok, text: b}
}

// postArg reads a body field as APISIX's post_arg does: form fields for
// application/x-www-form-urlencoded, a gjson path for JSON bodies.
func postArg(name string, req *Request, m *Match) varVal {
	if req.Vars == nil {
		return varVal{}
	}
	ct, ok := req.Vars.Var(VarHeader, "content-type")
	if !ok {
		return varVal{}
	}
	switch {
	case hasPrefixFold(ct, "application/x-www-form-urlencoded"):
		body, _ := req.Vars.Var(VarBody, "")
		v, ok := formValue(body, name, m)
		return varVal{ok: ok, text: v}
	case containsFold(ct, "json"):
		body, _ := req.Vars.Var(VarBody, "")
		r := gjson.Get(bytesView(body), name)
		if !r.Exists() || r.Type == gjson.Null {
			return varVal{}
		}
		v := varVal{ok: true, json: true, j: r}
		if r.Type == gjson.String {
			v.text = stringView(r.Str)
		} else {
			v.text = stringView(r.Raw)
		}
		return v
	}
	return varVal{}
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
