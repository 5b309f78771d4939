package route

import (
	"fmt"
	"strings"
)

// maxURILen bounds a pattern so that the rank fields fit in uint16 and so
// that APISIX's own limit (4096) is kept.
const maxURILen = 4096

// partKind says how one piece of a parsed pattern consumes the path.
type partKind uint8

const (
	partLit      partKind = iota // literal bytes
	partParam                    // ":name": one non-empty segment, [^/]+
	partCatchAll                 // "*name" or a trailing "*": the rest, possibly empty
)

type part struct {
	kind partKind
	text string // the literal for partLit, the capture name otherwise
}

// pattern is one parsed uri. APISIX (lua-resty-radixtree) keys a route by
// the literal bytes before its first ':' or '*' and orders candidates by
// that key's length, so keyLen is kept beside the parts the tree walks.
type pattern struct {
	raw    string
	parts  []part // literal texts are substrings of raw
	keyLen uint16
	exact  bool // no ':' and no '*': APISIX's hash-path match, beats every other kind
	// tail is set when the pattern ends by accepting any remainder: a
	// prefix route ("/a/*", "/a*") or a catch-all ("/files/*path").
	tail bool
	// params is set when a match captures something; Lookup skips the
	// capture pass otherwise.
	params bool
}

// parsePattern validates a uri and splits it into tree parts.
//
// APISIX's rules, which this follows: a pattern with a ':' anywhere is a
// parameter pattern matched segment by segment; otherwise a pattern whose
// only '*' is its last byte is a prefix match on what precedes it; otherwise
// a '*' starts a catch-all segment. Where APISIX would build a surprising
// regex (a '*' inside a literal segment becomes a PCRE quantifier, a '.'
// matches any byte), this parser rejects or takes the bytes literally, and
// says so in the error.
//
// The parts come from ca (nil: a fresh allocation).
func parsePattern(raw string, ca *compileArena) (pattern, error) {
	p := pattern{raw: raw}
	if raw == "" {
		return p, fmt.Errorf("%w: empty uri", ErrInvalidURI)
	}
	if len(raw) > maxURILen {
		return p, fmt.Errorf("%w: uri longer than %d bytes", ErrInvalidURI, maxURILen)
	}
	if raw[0] != '/' && raw != "*" {
		return p, fmt.Errorf("%w: %q must start with '/'", ErrInvalidURI, raw)
	}
	first := -1
	for i := 0; i < len(raw); i++ {
		if raw[i] == ':' || raw[i] == '*' {
			first = i
			break
		}
	}
	if first < 0 {
		p.exact = true
		p.keyLen = uint16(len(raw))
		p.parts = append(ca.takeParts(1), part{kind: partLit, text: raw})
		return p, nil
	}
	p.keyLen = uint16(first)
	if first == len(raw)-1 && raw[first] == '*' {
		p.tail = true
		if first > 0 {
			p.parts = append(ca.takeParts(1), part{kind: partLit, text: raw[:first]})
		}
		return p, nil
	}
	// Segment by segment: a segment that starts with ':' is a parameter,
	// one that starts with '*' a catch-all, anything else literal text.
	// Literal runs are kept as substrings of raw, so parsing copies nothing.
	n := 1
	for i := 0; i < len(raw); i++ {
		if raw[i] == ':' || raw[i] == '*' {
			n += 2
		}
	}
	p.parts = ca.takeParts(n)
	lit := 0 // start of the pending literal run
	for start := 0; start <= len(raw); {
		end := strings.IndexByte(raw[start:], '/')
		if end < 0 {
			end = len(raw)
		} else {
			end += start
		}
		seg := raw[start:end]
		switch {
		case strings.HasPrefix(seg, ":"):
			name := seg[1:]
			if name == "" {
				return p, fmt.Errorf("%w: %q: parameter without a name", ErrInvalidURI, raw)
			}
			for _, q := range p.parts {
				if q.kind == partParam && q.text == name {
					return p, fmt.Errorf("%w: %q: parameter %q appears twice", ErrInvalidURI, raw, name)
				}
			}
			if lit < start {
				p.parts = append(p.parts, part{kind: partLit, text: raw[lit:start]})
			}
			p.parts = append(p.parts, part{kind: partParam, text: name})
			lit = end
		case strings.HasPrefix(seg, "*"):
			if end != len(raw) {
				return p, fmt.Errorf("%w: %q: catch-all %q must be the last segment", ErrInvalidURI, raw, seg)
			}
			name := seg[1:]
			if name == "" {
				name = ":ext" // APISIX's name for an anonymous catch-all
			}
			if lit < start {
				p.parts = append(p.parts, part{kind: partLit, text: raw[lit:start]})
			}
			p.parts = append(p.parts, part{kind: partCatchAll, text: name})
			p.tail = true
			lit = end
		case strings.Contains(seg, "*"):
			return p, fmt.Errorf("%w: %q: '*' inside segment %q (APISIX would read it as a regex quantifier)", ErrInvalidURI, raw, seg)
		}
		start = end + 1
	}
	if lit < len(raw) {
		p.parts = append(p.parts, part{kind: partLit, text: raw[lit:]})
	}
	for _, q := range p.parts {
		p.params = p.params || q.kind != partLit
	}
	return p, nil
}

// capture appends p's parameters as views into path. The tree walk has
// already proved that path matches p; since a parameter is a whole segment,
// the spans are forced and one left-to-right pass finds them.
func (p *pattern) capture(path []byte, ps []Param) []Param {
	i := 0
	for _, pt := range p.parts {
		switch pt.kind {
		case partLit:
			i += len(pt.text)
		case partParam:
			j := i
			for j < len(path) && path[j] != '/' {
				j++
			}
			ps = append(ps, Param{Key: pt.text, Value: path[i:j:j]})
			i = j
		case partCatchAll:
			ps = append(ps, Param{Key: pt.text, Value: path[i:len(path):len(path)]})
			i = len(path)
		}
	}
	return ps
}
