package plugin

import (
	"fmt"
	"strings"
)

// Template is a string with nginx-style variables — "$uri/index.html",
// "${host}x", "$arg_id", "$http_x_api" — compiled once; "\$" is a literal
// dollar. A variable that does not exist renders empty, as in APISIX.
type Template struct {
	parts []tpart
	src   string
}

type tpart struct {
	lit string
	v   *Var
}

// CompileTemplate parses s.
func CompileTemplate(s string) (*Template, error) {
	t := &Template{src: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, tpart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && i+1 < len(s) && s[i+1] == '$':
			lit.WriteByte('$')
			i++
		case ch == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("%q: unclosed ${", s)
			}
			name := s[i+2 : i+end]
			if name == "" {
				return nil, fmt.Errorf("%q: empty ${}", s)
			}
			flush()
			v := ParseVar(name)
			t.parts = append(t.parts, tpart{v: &v})
			i += end
		case ch == '$' && i+1 < len(s) && isVarChar(s[i+1]):
			j := i + 1
			for j < len(s) && isVarChar(s[j]) {
				j++
			}
			flush()
			v := ParseVar(s[i+1 : j])
			t.parts = append(t.parts, tpart{v: &v})
			i = j - 1
		default:
			lit.WriteByte(ch)
		}
	}
	flush()
	return t, nil
}

func isVarChar(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// Static reports whether t has no variables (render it once, at build).
func (t *Template) Static() bool {
	for _, p := range t.parts {
		if p.v != nil {
			return false
		}
	}
	return true
}

// String is the template as written.
func (t *Template) String() string { return t.src }

// Append renders t for the request onto dst.
func (c *Ctx) Append(dst []byte, t *Template) []byte {
	for i := range t.parts {
		p := &t.parts[i]
		if p.v == nil {
			dst = append(dst, p.lit...)
			continue
		}
		if v, ok := c.Get(p.v); ok {
			dst = append(dst, v...)
		}
	}
	return dst
}

// Render renders t into request-lifetime storage.
func (c *Ctx) Render(t *Template) []byte {
	c.tmp = c.Append(c.tmp[:0], t)
	out := c.Alloc(len(c.tmp))
	copy(out, c.tmp)
	return out
}

// Keep copies b (a scratch value) into request-lifetime storage.
func (c *Ctx) Keep(b []byte) []byte {
	out := c.Alloc(len(b))
	copy(out, b)
	return out
}

// Scratch returns the context's scratch buffer, emptied, for building a
// value before Keep; valid until the next Scratch, Render or Keep call of
// any plugin.
func (c *Ctx) Scratch() []byte { return c.tmp[:0] }

// SetScratch hands a grown scratch buffer back for reuse.
func (c *Ctx) SetScratch(b []byte) { c.tmp = b[:0] }

// AppendEscapedURI appends b to dst with the bytes a URI may not hold
// percent-encoded (RFC 3986): controls, space, non-ASCII, and
// "<>\"^`{|}\\". '%' and the reserved characters are kept, so an
// already-encoded URI is unchanged.
func AppendEscapedURI(dst, b []byte) []byte {
	const hexd = "0123456789ABCDEF"
	for _, ch := range b {
		if uriOK(ch) {
			dst = append(dst, ch)
		} else {
			dst = append(dst, '%', hexd[ch>>4], hexd[ch&15])
		}
	}
	return dst
}

func uriOK(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	switch c {
	case '"', '<', '>', '\\', '^', '`', '{', '|', '}':
		return false
	}
	return true
}
