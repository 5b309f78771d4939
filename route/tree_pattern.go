package route

import (
	"fmt"
	"strings"
	"unsafe"
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

// part is one piece of a uri, as a span of it: the literal for partLit,
// the capture name otherwise (an empty catch-all name is APISIX's ":ext").
// It holds no pointer, so that a route's parts can live in its blob
// (entry).
type part struct {
	kind   partKind
	off, n uint16
}

// text returns the part's literal or name; raw is its uri.
func (p part) text(raw string) string {
	if p.kind == partCatchAll && p.n == 0 {
		return ":ext" // APISIX's name for an anonymous catch-all
	}
	return raw[p.off : p.off+p.n]
}

// partBytes is the size of a part in a blob, where the parts are stored
// in place, 2-aligned after their uri (entry.part).
const partBytes = int(unsafe.Sizeof(part{}))

// pattern is one parsed uri. APISIX (lua-resty-radixtree) keys a route by
// the literal bytes before its first ':' or '*' and orders candidates by
// that key's length, so keyLen is kept beside the parts the tree walks.
type pattern struct {
	raw    string
	parts  []part // spans of raw
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
// The parts are appended to parts[:0].
func parsePattern(raw string, parts []part) (pattern, error) {
	p := pattern{raw: raw, parts: parts[:0]}
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
		p.parts = append(p.parts, part{kind: partLit, n: uint16(len(raw))})
		return p, nil
	}
	p.keyLen = uint16(first)
	if first == len(raw)-1 && raw[first] == '*' {
		p.tail = true
		if first > 0 {
			p.parts = append(p.parts, part{kind: partLit, n: uint16(first)})
		}
		return p, nil
	}
	// Segment by segment: a segment that starts with ':' is a parameter,
	// one that starts with '*' a catch-all, anything else literal text.
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
				if q.kind == partParam && q.text(raw) == name {
					return p, fmt.Errorf("%w: %q: parameter %q appears twice", ErrInvalidURI, raw, name)
				}
			}
			if lit < start {
				p.parts = append(p.parts, part{kind: partLit, off: uint16(lit), n: uint16(start - lit)})
			}
			p.parts = append(p.parts, part{kind: partParam, off: uint16(start + 1), n: uint16(len(name))})
			lit = end
		case strings.HasPrefix(seg, "*"):
			if end != len(raw) {
				return p, fmt.Errorf("%w: %q: catch-all %q must be the last segment", ErrInvalidURI, raw, seg)
			}
			if lit < start {
				p.parts = append(p.parts, part{kind: partLit, off: uint16(lit), n: uint16(start - lit)})
			}
			p.parts = append(p.parts, part{kind: partCatchAll, off: uint16(start + 1), n: uint16(len(seg) - 1)})
			p.tail = true
			lit = end
		case strings.Contains(seg, "*"):
			return p, fmt.Errorf("%w: %q: '*' inside segment %q (APISIX would read it as a regex quantifier)", ErrInvalidURI, raw, seg)
		}
		start = end + 1
	}
	if lit < len(raw) {
		p.parts = append(p.parts, part{kind: partLit, off: uint16(lit), n: uint16(len(raw) - lit)})
	}
	for _, q := range p.parts {
		p.params = p.params || q.kind != partLit
	}
	return p, nil
}
