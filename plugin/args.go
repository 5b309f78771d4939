package plugin

import "bytes"

var slash = []byte("/")

// Path and Query are the request's path and query (without '?') as the
// upstream will receive them so far: those of a target an earlier hook set
// (proxy-rewrite, or an authentication plugin hiding its credential), else
// the request's own. A hook that builds a new target from the query reads
// Query, so that what an earlier hook removed stays removed, as in APISIX,
// where plugins read and write one set of arguments.
func (c *Ctx) Path() []byte {
	if c.Edits != nil {
		if t := c.Edits.NewTarget(); t != nil {
			p, _ := cutByte(t, '?')
			return p
		}
	}
	if c.Req == nil {
		return nil
	}
	return c.Req.Path()
}

// Query: see Path.
func (c *Ctx) Query() []byte {
	if c.Edits != nil {
		if t := c.Edits.NewTarget(); t != nil {
			_, q := cutByte(t, '?')
			return q
		}
	}
	if c.Req == nil {
		return nil
	}
	return c.Req.Query()
}

// URIArg returns the query argument name as APISIX's
// core.request.get_uri_args sees it (not as the case-insensitive, undecoded
// $arg_name of Arg): the name compared exactly after decoding, the value
// decoded ('+' is a space, %XX a byte). ok reports whether the argument is
// there at all; a nil val with ok means it is there but is not one string
// (repeated, where APISIX has a list, or without '=', where APISIX has
// true), which no credential matches. val is a view into the request, or
// request-lifetime storage when it had escapes.
func (c *Ctx) URIArg(name string) (val []byte, ok bool) {
	q := c.Query()
	for len(q) > 0 {
		var pair []byte
		pair, q = cutByte(q, '&')
		k, v, eq := bytes.Cut(pair, []byte{'='})
		if !c.argNameIs(k, name) {
			continue
		}
		if ok || !eq {
			return nil, true
		}
		val, ok = v, true
	}
	if ok && needsUnescape(val) {
		val = unescape(c.Alloc(len(val))[:0], val)
	}
	return val, ok
}

// DelURIArg removes every occurrence of the query argument name (compared
// as URIArg does) from the target the upstream receives (Path and Query), keeping the other
// arguments as they were (empty ones dropped); a query left empty loses
// its '?'.
func (c *Ctx) DelURIArg(name string) {
	if c.Req == nil || c.Edits == nil {
		return
	}
	q := c.Query()
	if len(q) == 0 {
		return
	}
	// Origin-form, as the head writer sends an absolute-form target.
	path := c.Path()
	if len(path) == 0 {
		path = slash
	}
	out := c.Alloc(len(path) + 1 + len(q))[:0]
	out = append(out, path...)
	first := true
	for len(q) > 0 {
		var pair []byte
		pair, q = cutByte(q, '&')
		k, _, _ := bytes.Cut(pair, []byte{'='})
		if len(pair) == 0 || c.argNameIs(k, name) {
			continue
		}
		if first {
			out = append(out, '?')
			first = false
		} else {
			out = append(out, '&')
		}
		out = append(out, pair...)
	}
	c.Edits.SetTarget(out)
}

// argNameIs compares a raw query argument name, decoded, with name.
func (c *Ctx) argNameIs(raw []byte, name string) bool {
	if !needsUnescape(raw) {
		return string(raw) == name
	}
	if len(raw) < len(name) {
		return false
	}
	var tmp [64]byte
	var d []byte
	if len(raw) <= len(tmp) {
		d = unescape(tmp[:0], raw)
	} else {
		d = unescape(c.Alloc(len(raw))[:0], raw)
	}
	return string(d) == name
}

func cutByte(b []byte, sep byte) (before, after []byte) {
	if i := bytes.IndexByte(b, sep); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

func needsUnescape(b []byte) bool {
	return bytes.IndexByte(b, '%') >= 0 || bytes.IndexByte(b, '+') >= 0
}

// unescape appends s to dst decoded as nginx's ngx.unescape_uri decodes
// arguments: '+' is a space, %XX a byte, a '%' not followed by two hex
// digits is kept as it is.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == '+':
			dst = append(dst, ' ')
		case b == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			dst = append(dst, b)
		}
	}
	return dst
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

func unhex(b byte) byte {
	switch {
	case b <= '9':
		return b - '0'
	case b <= 'F':
		return b - 'A' + 10
	}
	return b - 'a' + 10
}
