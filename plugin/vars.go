package plugin

import (
	"bytes"
	"net/netip"
	"strconv"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/route"
)

// RequestVars serves a parsed request's variables to vars expressions and
// plugins (route.Vars): headers, query arguments, cookies and nginx's named
// variables. The server keeps one per connection; values are views into
// the request or into the struct's scratch, valid until the next call.
type RequestVars struct {
	Req           *codec.Request
	Local, Remote netip.AddrPort
	// TLS says the client connection is TLS (scheme https).
	TLS bool
	// Body is the request body read so far, for post_arg.
	Body []byte
	// Ctx, when set, serves the variables only the plugin context knows:
	// status, upstream_status, consumer_name, route_id, service_id.
	Ctx *Ctx
	buf []byte
}

var _ route.Vars = (*RequestVars)(nil)

// Var implements route.Vars.
func (v *RequestVars) Var(kind route.VarKind, name string) ([]byte, bool) {
	r := v.Req
	if r == nil {
		return nil, false
	}
	switch kind {
	case route.VarHeader:
		return r.Get(name)
	case route.VarArg:
		return queryArg(r.Query(), name)
	case route.VarCookie:
		return v.cookie(name)
	case route.VarBody:
		return v.Body, v.Body != nil
	}
	switch name {
	case "scheme":
		if v.TLS {
			return viewOf("https"), true
		}
		return viewOf("http"), true
	case "request_uri":
		return r.Target(), true
	case "uri":
		return r.Path(), true
	case "args", "query_string":
		q := r.Query()
		return q, len(q) > 0
	case "is_args":
		if len(r.Query()) > 0 {
			return viewOf("?"), true
		}
		return nil, true
	case "request_method":
		return r.Method(), true
	case "server_protocol":
		return r.Proto(), true
	case "host":
		h := r.Host()
		if i := bytes.LastIndexByte(h, ':'); i >= 0 && bytes.IndexByte(h[i:], ']') < 0 {
			h = h[:i]
		}
		return h, true
	case "http_host":
		return r.Host(), true
	case "remote_addr":
		v.buf = v.Remote.Addr().Unmap().AppendTo(v.buf[:0])
		return v.buf, true
	case "remote_port":
		v.buf = strconv.AppendUint(v.buf[:0], uint64(v.Remote.Port()), 10)
		return v.buf, true
	case "server_addr":
		v.buf = v.Local.Addr().Unmap().AppendTo(v.buf[:0])
		return v.buf, true
	case "server_port":
		v.buf = strconv.AppendUint(v.buf[:0], uint64(v.Local.Port()), 10)
		return v.buf, true
	case "content_type":
		return r.Get("Content-Type")
	case "content_length":
		return r.Get("Content-Length")
	case "status", "upstream_status", "consumer_name", "route_id", "service_id":
		if v.Ctx == nil {
			return nil, false
		}
		val, ok := v.Ctx.Get(ctxVars[name])
		v.buf = append(v.buf[:0], val...)
		return v.buf, ok
	}
	return nil, false
}

// queryArg finds name's first value in a query string, undecoded, as
// nginx's $arg_name does (names compare case-insensitively there).
func queryArg(q []byte, name string) ([]byte, bool) {
	for len(q) > 0 {
		var pair []byte
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			pair, q = q, nil
		}
		k, val := pair, []byte(nil)
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			k, val = pair[:i], pair[i+1:]
		}
		if len(k) == len(name) && equalFold(k, name) {
			return val, true
		}
	}
	return nil, false
}

func (v *RequestVars) cookie(name string) ([]byte, bool) {
	for i := 0; i < v.Req.NumFields(); i++ {
		k, val := v.Req.Field(i)
		if !equalFold(k, "cookie") {
			continue
		}
		for len(val) > 0 {
			var c []byte
			if j := bytes.IndexByte(val, ';'); j >= 0 {
				c, val = val[:j], val[j+1:]
			} else {
				c, val = val, nil
			}
			c = bytes.TrimLeft(c, " \t")
			if j := bytes.IndexByte(c, '='); j >= 0 && string(c[:j]) == name {
				return bytes.TrimRight(c[j+1:], " \t"), true
			}
		}
	}
	return nil, false
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// ctxVars are the variables RequestVars reads from the plugin context.
var ctxVars = func() map[string]*Var {
	m := map[string]*Var{}
	for _, n := range []string{"status", "upstream_status", "consumer_name", "route_id", "service_id"} {
		v := ParseVar(n)
		m[n] = &v
	}
	return m
}()
