package limiter

import (
	"strings"

	"github.com/sluice-gateway/sluice/plugin"
)

// Template is a string with APISIX variables in it ("$remote_addr
// $consumer_name", "client ${http_x_id}"), as core.utils.resolve_var reads
// it: $name or ${name}, where a name is letters, digits, '_' and '.', and
// a '$' right after a backslash is literal (the backslash stays). An
// absent variable becomes "", or the default of ${name ?? default}
// (spaces around the name and ?? are allowed).
type Template struct {
	parts []part
	vars  int
	lit   []byte // the whole template when it has no variable
}

type part struct {
	lit    []byte
	v      plugin.Var
	fast   fastVar
	isV    bool
	def    []byte // ${name ?? def}
	hasDef bool
}

// ParseTemplate compiles s.
func ParseTemplate(s string) Template {
	var t Template
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || (i > 0 && s[i-1] == '\\') {
			continue
		}
		name, end := "", 0
		var def string
		hasDef := false
		if i+1 < len(s) && s[i+1] == '{' {
			if j := strings.IndexByte(s[i+2:], '}'); j > 0 {
				inner := strings.TrimSpace(s[i+2 : i+2+j])
				n, d, ok := strings.Cut(inner, "??")
				n = strings.TrimSpace(n)
				if n != "" && strings.IndexFunc(n, func(r rune) bool { return r > 127 || !isNameByte(byte(r)) }) < 0 {
					name, end = n, i+3+j
					def, hasDef = strings.TrimSpace(d), ok
				}
			}
		}
		if name == "" {
			j := i + 1
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			if j > i+1 {
				name, end = s[i+1:j], j
			}
		}
		if name == "" {
			continue
		}
		if i > start {
			t.parts = append(t.parts, part{lit: []byte(s[start:i])})
		}
		t.parts = append(t.parts, part{isV: true, v: plugin.ParseVar(name), fast: fastVarOf(name), def: []byte(def), hasDef: hasDef})
		t.vars++
		start, i = end, end-1
	}
	if t.vars == 0 {
		t.parts = nil
		t.lit = []byte(s)
		return t
	}
	if start < len(s) {
		t.parts = append(t.parts, part{lit: []byte(s[start:])})
	}
	return t
}

func isNameByte(b byte) bool {
	return b == '_' || b == '.' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}

// Vars is how many variable references the template has.
func (t *Template) Vars() int { return t.vars }

// Static returns the template's text when it has no variable.
func (t *Template) Static() ([]byte, bool) { return t.lit, t.vars == 0 }

// Append appends the template resolved for the request to dst, and how
// many of its variables were present.
func (t *Template) Append(c *plugin.Ctx, dst []byte) ([]byte, int) {
	if t.vars == 0 {
		return append(dst, t.lit...), 0
	}
	n := 0
	for i := range t.parts {
		p := &t.parts[i]
		switch {
		case !p.isV:
			dst = append(dst, p.lit...)
		case p.fast != fastNone:
			dst = p.fast.append(c, dst)
			n++
		default:
			if v, ok := c.Get(&p.v); ok {
				dst = append(dst, v...)
				n++
			} else if p.hasDef {
				dst = append(dst, p.def...)
				n++
			}
		}
	}
	return dst, n
}

// Render resolves the template into request-lifetime storage (c.Alloc),
// for a header value or a body. A template without variables returns its
// own bytes.
func (t *Template) Render(c *plugin.Ctx) []byte {
	if t.vars == 0 {
		return t.lit
	}
	var buf [256]byte
	out, _ := t.Append(c, buf[:0])
	b := c.Alloc(len(out))
	copy(b, out)
	return b
}
