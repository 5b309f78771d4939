package route

import (
	"encoding/binary"
	"math"
	"net/netip"
	"unsafe"
)

// A compiled vars expression is a flat program: a 32-bit instruction
// count, 4 bytes of padding, the instructions (vop, 16 bytes each, in
// prefix order), then a pool of the bytes they refer to (variable names,
// string constants, prefixes) and one more zero byte, so that every pool
// offset, even that of an empty string at its end, points inside the
// program. Integers are in the machine's byte order. The program sits
// 8-aligned inside the
// route's blob, right after its uris, so that evaluating it reads one
// run of memory instead of chasing expression nodes, operand lists,
// address lists and strings allocated apart, at 100k routes a cache miss
// each; and the instructions are read in place as structs, with no
// decoding.
//
// A logic node (opAnd, opOr) is followed by its children; next is the
// index after its last one. A clause names its variable (src, kind, and
// the name at pool offset a, length b) and is followed by its operand
// instructions, up to next:
//
//	==, ~=, has        one operand
//	>, >=, <, <=       one number operand (valid when flNumOK)
//	~~, ~*             one instruction whose a indexes the owner's regexps
//	in                 one operand per element
//	ipmatch            one instruction: b prefixes (prefixLen bytes each) at pool offset a
//
// An operand instruction holds its valKind in op, and a string's pool
// offset and length, or a number's (a bool's 1 or 0) float64 bits, in a
// and b.
type vop struct {
	op    exprOp
	flags uint8 // flNeg, flNumOK
	src   varSrc
	kind  VarKind
	next  uint32
	a, b  uint32
}

const (
	vopSize = 16
	flNeg   = 1 << 0
	flNumOK = 1 << 1
)

// progOps returns the instructions of program p, in place (for the
// compiler; evaluation reads them unchecked through vm).
func progOps(p []byte) []vop {
	n := int(binary.NativeEndian.Uint32(p))
	if len(p) < 8+vopSize*n || n == 0 {
		return nil
	}
	return unsafe.Slice((*vop)(unsafe.Pointer(&p[8])), n)
}

func (o *vop) f64() float64 { return math.Float64frombits(uint64(o.a) | uint64(o.b)<<32) }

// A prefix is encoded in prefixLen bytes: flags (pfxValid, pfx6), the
// prefix length in bits, then the masked address, an IPv4 one in the
// first 4 of 16 bytes.
const (
	prefixLen = 18
	pfxValid  = 1 << 0
	pfx6      = 1 << 1
)

func appendPrefix(b []byte, p netip.Prefix) []byte {
	var fl byte
	if p.IsValid() {
		fl |= pfxValid
	}
	a := p.Addr()
	var x [16]byte
	if a.Is6() {
		fl |= pfx6
		x = a.As16()
	} else if a.Is4() {
		v4 := a.As4()
		copy(x[:], v4[:])
	}
	b = append(b, fl, byte(p.Bits()))
	return append(b, x[:]...)
}

// decodePrefix turns an encoded prefix back into a netip.Prefix, for
// Explain.
func decodePrefix(q []byte) netip.Prefix {
	if q[0]&pfxValid == 0 {
		return netip.Prefix{}
	}
	if q[0]&pfx6 != 0 {
		return netip.PrefixFrom(netip.AddrFrom16([16]byte(q[2:18])), int(q[1]))
	}
	return netip.PrefixFrom(netip.AddrFrom4([4]byte(q[2:6])), int(q[1]))
}

// prefixHas is netip.Prefix.Contains on an encoded prefix, for an address
// already unmapped: an IPv4 address is never in an IPv6 prefix, an
// address with a zone in none.
func prefixHas(q []byte, a netip.Addr) bool {
	fl := q[0]
	if fl&pfxValid == 0 {
		return false
	}
	bits := uint(q[1])
	if a.Is4() {
		if fl&pfx6 != 0 {
			return false
		}
		x := a.As4()
		v := binary.BigEndian.Uint32(x[:]) ^ binary.BigEndian.Uint32(q[2:6])
		return v>>(32-bits) == 0 // a shift by 32 leaves 0: /0 holds everything
	}
	if fl&pfx6 == 0 || !a.Is6() || a.Zone() != "" {
		return false
	}
	x := a.As16()
	hi := binary.BigEndian.Uint64(x[:8]) ^ binary.BigEndian.Uint64(q[2:10])
	lo := binary.BigEndian.Uint64(x[8:]) ^ binary.BigEndian.Uint64(q[10:18])
	if bits <= 64 {
		return hi>>(64-bits) == 0
	}
	return hi == 0 && lo>>(128-bits) == 0
}

// prefixesHave reports whether one of the count encoded prefixes at q
// (in a program) holds a, which must be valid.
func prefixesHave(q unsafe.Pointer, count uint32, a netip.Addr) bool {
	a = a.Unmap()
	ps := unsafe.Slice((*byte)(q), int(count)*prefixLen)
	for i := 0; i < len(ps); i += prefixLen {
		if prefixHas(ps[i:i+prefixLen], a) {
			return true
		}
	}
	return false
}
