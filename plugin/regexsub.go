package plugin

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// RegexSub is a regex with a replacement template, applied as OpenResty's
// ngx.re.sub applies them (APISIX's regex_uri in proxy-rewrite and
// redirect): the leftmost match is replaced, and the subject before and
// after it is kept. The template refers to captures as $0, $1, … or ${1};
// "$$" is a dollar. Compiled once, at build time.
type RegexSub struct {
	re    *regexp.Regexp
	parts []subPart
}

type subPart struct {
	lit   string
	group int // -1: a literal
}

// CompileRegexSub compiles pattern (Go's RE2 syntax, which APISIX's PCRE
// patterns mostly share) and its replacement. A "$" not followed by a
// group number, "{n}" or "$", or a group the pattern does not have, is an
// error, as it is for ngx.re.sub.
func CompileRegexSub(pattern, replacement string) (*RegexSub, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	s := &RegexSub{re: re}
	lit := []byte{}
	flush := func() {
		if len(lit) > 0 {
			s.parts = append(s.parts, subPart{lit: string(lit), group: -1})
			lit = lit[:0]
		}
	}
	for i := 0; i < len(replacement); i++ {
		ch := replacement[i]
		if ch != '$' {
			lit = append(lit, ch)
			continue
		}
		rest := replacement[i+1:]
		var digits string
		switch {
		case len(rest) > 0 && rest[0] == '$':
			lit = append(lit, '$')
			i++
			continue
		case len(rest) > 0 && rest[0] == '{':
			end := 1
			for end < len(rest) && '0' <= rest[end] && rest[end] <= '9' {
				end++
			}
			if end == 1 || end == len(rest) || rest[end] != '}' {
				return nil, fmt.Errorf("replacement %q: want ${<group number>} at offset %d", replacement, i)
			}
			digits = rest[1:end]
			i += end + 1
		default:
			end := 0
			for end < len(rest) && '0' <= rest[end] && rest[end] <= '9' {
				end++
			}
			if end == 0 {
				return nil, fmt.Errorf("replacement %q: a $ at offset %d names no capture group (use $1, ${1}, or $$ for a dollar)", replacement, i)
			}
			digits = rest[:end]
			i += end
		}
		n, err := strconv.Atoi(digits)
		if err != nil || n > re.NumSubexp() {
			return nil, fmt.Errorf("replacement %q: $%s: the regex has %d capture groups", replacement, digits, re.NumSubexp())
		}
		flush()
		s.parts = append(s.parts, subPart{group: n})
	}
	flush()
	return s, nil
}

// CompileRegexSubOpts is CompileRegexSub with OpenResty's regex options
// (ngx.re's "jo" and the like): i (case-insensitive), m (multi-line), s
// (. matches \n) and a (anchored at the subject's start) change the match;
// j, o and u (JIT, compile once, UTF-8) do not apply to Go's regexp and are
// accepted. Any other option is an error.
func CompileRegexSubOpts(pattern, replacement, options string) (*RegexSub, error) {
	flags, anchored := "", false
	for _, o := range options {
		switch o {
		case 'i', 'm', 's':
			if !strings.ContainsRune(flags, o) {
				flags += string(o)
			}
		case 'a':
			anchored = true
		case 'j', 'o', 'u':
		default:
			return nil, fmt.Errorf("regex option %q is not supported (sluice takes i, m, s, a, j, o, u)", o)
		}
	}
	if anchored {
		pattern = `\A(?:` + pattern + `)`
	}
	if flags != "" {
		pattern = "(?" + flags + ")" + pattern
	}
	return CompileRegexSub(pattern, replacement)
}

// Regexp is the compiled pattern.
func (s *RegexSub) Regexp() *regexp.Regexp { return s.re }

// Append appends subject, with its leftmost match replaced, to dst. idx
// is the match's submatch indexes (for Ctx.SetCaptures); nil, with dst
// unchanged, when the pattern does not match. A match costs Go's regexp
// one allocation (the indexes); no match, none.
func (s *RegexSub) Append(dst, subject []byte) ([]byte, []int) {
	idx := s.re.FindSubmatchIndex(subject)
	if idx == nil {
		return dst, nil
	}
	dst = append(dst, subject[:idx[0]]...)
	dst = s.expand(dst, subject, idx)
	return append(dst, subject[idx[1]:]...), idx
}

// AppendAll appends subject, with every match replaced, to dst, as
// ngx.re.gsub; n is the number of matches. It allocates (Go's regexp
// returns the matches' indexes in new slices).
func (s *RegexSub) AppendAll(dst, subject []byte) (out []byte, n int) {
	ms := s.re.FindAllSubmatchIndex(subject, -1)
	at := 0
	for _, idx := range ms {
		dst = append(dst, subject[at:idx[0]]...)
		dst = s.expand(dst, subject, idx)
		at = idx[1]
	}
	return append(dst, subject[at:]...), len(ms)
}

func (s *RegexSub) expand(dst, subject []byte, idx []int) []byte {
	for _, p := range s.parts {
		if p.group < 0 {
			dst = append(dst, p.lit...)
		} else if lo := idx[2*p.group]; lo >= 0 {
			dst = append(dst, subject[lo:idx[2*p.group+1]]...)
		}
	}
	return dst
}
