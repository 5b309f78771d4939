package codec

import (
	"bytes"
	"encoding/binary"
)

// Character classes as 256-entry tables: one load per byte beats a chain of
// comparisons in the loops that touch every byte of a head.
var (
	tokenChar  [256]bool // tchar, RFC 9110 §5.6.2
	valueChar  [256]bool // field-vchar / SP / HTAB / obs-text, RFC 9110 §5.5
	targetChar [256]bool // bytes allowed in a request-target (see targetOK)
	hostChar   [256]bool // reg-name and port bytes, RFC 3986 §3.2.2
	ipLitChar  [256]bool // inside [ ] of an IP-literal, zone IDs included
	hexVal     [256]int8 // -1 when not a HEXDIG
)

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		isAlnum := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
		switch {
		case isAlnum:
			tokenChar[c] = true
		default:
			switch b {
			case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
				tokenChar[c] = true
			}
		}
		valueChar[c] = b == '\t' || b >= 0x20 && b != 0x7f
		// Any visible ASCII except '#': RFC 3986 forbids some of these
		// (" < > \ ^ ` { | }) but clients send them unescaped in practice and
		// they cannot change how the target splits. '#' can: a fragment is
		// never sent (RFC 9112 §3.2) and upstreams disagree on what it ends.
		targetChar[c] = b > 0x20 && b < 0x7f && b != '#'
		hostChar[c] = isAlnum
		switch b {
		case '-', '.', '_', '~', '%', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
			hostChar[c] = true
		}
		ipLitChar[c] = hostChar[c] || b == ':'
		hexVal[c] = -1
		switch {
		case b >= '0' && b <= '9':
			hexVal[c] = int8(b - '0')
		case b >= 'a' && b <= 'f':
			hexVal[c] = int8(b - 'a' + 10)
		case b >= 'A' && b <= 'F':
			hexVal[c] = int8(b - 'A' + 10)
		}
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// valueOK reports whether every byte of b may appear in a field value. Eight
// bytes at a time: a word is clean when no byte is below 0x20 and none is
// 0x7f (the "has less than" bit trick is exact for existence). HTAB, the one
// control byte allowed, sends the word to the byte loop.
func valueOK(b []byte) bool {
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		y := x ^ (0x7f * lsb)
		if ((x-0x20*lsb)&^x|(y-lsb)&^y)&msb != 0 {
			break
		}
		b = b[8:]
	}
	for _, c := range b {
		if !valueChar[c] {
			return false
		}
	}
	return true
}

// lower folds an ASCII letter; other bytes pass through.
func lower(c byte) byte {
	if c-'A' < 26 {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold compares b with s ASCII-case-insensitively, without allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// equalFoldBytes is equalFold for two byte slices.
func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// isOWS reports SP or HTAB.
func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS trims SP and HTAB from both ends of b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// nextListElem splits the next element off a comma-separated field value
// (RFC 9110 §5.6.1), skipping empty elements, which senders may emit.
func nextListElem(v []byte) (elem, rest []byte) {
	for {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		elem = trimOWS(v[:i])
		if i < len(v) {
			rest = v[i+1:]
		} else {
			rest = nil
		}
		if len(elem) > 0 || len(rest) == 0 {
			return elem, rest
		}
		v = rest
	}
}

// pctOK reports whether every '%' in b starts a pct-encoded octet,
// "%" HEXDIG HEXDIG (RFC 3986 §2.1): a malformed escape decodes differently
// in every upstream, so it is refused at the edge.
func pctOK(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '%')
		if i < 0 {
			return true
		}
		if i+2 >= len(b) || hexVal[b[i+1]] < 0 || hexVal[b[i+2]] < 0 {
			return false
		}
		b = b[i+3:]
	}
}

// hostOK validates uri-host [":" port] (RFC 9110 §7.2, RFC 3986 §3.2.2).
// Userinfo is refused: '@' is not in the tables (RFC 9110 §4.2.4 tells
// recipients to treat it as an error).
func hostOK(b []byte) bool {
	i := 0
	if len(b) > 0 && b[0] == '[' {
		i = 1
		for i < len(b) && ipLitChar[b[i]] {
			i++
		}
		if i == 1 || i == len(b) || b[i] != ']' {
			return false
		}
		i++
	} else {
		for i < len(b) && hostChar[b[i]] {
			i++
		}
	}
	if !pctOK(b[:i]) {
		return false
	}
	if i == len(b) {
		return true
	}
	if b[i] != ':' {
		return false
	}
	for _, c := range b[i+1:] {
		if c-'0' > 9 {
			return false
		}
	}
	return true
}

// parseDecimal parses 1*DIGIT into a non-negative int64, refusing overflow.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		if n > (1<<63-1-int64(d))/10 {
			return 0, false
		}
		n = n*10 + int64(d)
	}
	return n, true
}
