package route

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// entry is one uri of one route, hung on the node where its pattern ends:
// one cache line holding what ranking and checking a candidate read. The
// rank fields are copied out of the route and the pattern, and the uri's
// text, its parts and the route's predicate program (match_pred.go) sit
// in one blob carved, in build order, out of the same arrays as the
// neighbouring routes' blobs. A lookup at 100k routes then touches the
// entry and one run of bytes per candidate, not a Route, host and
// expression objects and strings allocated apart, each a cache miss.
type entry struct {
	// blob starts with this uri's text (rawLen bytes), then, partsPad
	// bytes after it, its parts (nparts of partBytes each, 2-aligned);
	// the route's predicate program starts at predOff (0: none). The
	// Route's other entries share the blob.
	blob    []byte
	route   *Route
	prio    int
	seq     uint64
	predOff uint32
	keyLen  uint16
	rawLen  uint16
	uriIdx  uint16 // position in the route's uris: APISIX inserts them in order
	methods uint16 // the route's methods as a bitmask, 0 for any
	nparts  uint16
	flags   entryFlags
	// partsPad is how far past the uri's text its parts start: the
	// anonymous catch-all's name and the padding to 2-alignment
	partsPad uint8
}

type entryFlags uint8

const (
	// the pattern has no ':' and no '*': APISIX's hash-path match
	efExact entryFlags = 1 << iota
	// the pattern ends by accepting any remainder: a prefix route
	// ("/a/*", "/a*") or a catch-all ("/files/*path")
	efTail
	// a match captures something
	efParams
	// the route has no predicate at all, the common case that Lookup
	// accepts without checking
	efPlain
)

func (e *entry) raw() string   { return bytesView(e.blob[:e.rawLen]) }
func (e *entry) isExact() bool { return e.flags&efExact != 0 }
func (e *entry) isTail() bool  { return e.flags&efTail != 0 }
func (e *entry) numParts() int { return int(e.nparts) }

// partText returns a part's literal or name: a span of the blob, which
// holds the uri and, after it, ":ext" for an anonymous catch-all.
func (e *entry) partText(p part) string {
	return bytesView(e.blob[p.off : p.off+p.n])
}

// parts returns the uri's parts, in place.
func (e *entry) parts() []part {
	if e.nparts == 0 {
		return nil
	}
	o := int(e.rawLen) + int(e.partsPad)
	_ = e.blob[o+partBytes*int(e.nparts)-1]
	return unsafe.Slice((*part)(unsafe.Pointer(&e.blob[o])), e.nparts)
}

// part returns part i of the uri.
func (e *entry) part(i int) part { return e.parts()[i] }

// before reports whether a is tried before b, APISIX's order: an exact uri
// first, then the longer literal key (the bytes before the first ':' or
// '*'), then the higher priority, then the longer uri, then the route
// configured first.
func (a *entry) before(b *entry) bool {
	if a.isExact() != b.isExact() {
		return a.isExact()
	}
	if a.keyLen != b.keyLen {
		return a.keyLen > b.keyLen
	}
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	if a.rawLen != b.rawLen {
		return a.rawLen > b.rawLen
	}
	if a.seq != b.seq {
		return a.seq < b.seq
	}
	return a.uriIdx < b.uriIdx
}

// capture appends the entry's parameters as views into path. The tree
// walk has already proved that path matches the pattern; since a
// parameter is a whole segment, the spans are forced and one
// left-to-right pass finds them.
func (e *entry) capture(path []byte, ps []Param) []Param {
	// Read in place and unchecked, like a vars program: the blob is
	// immutable and compileInto wrote these offsets.
	blob := unsafe.Pointer(unsafe.SliceData(e.blob))
	parts := unsafe.Add(blob, uintptr(e.rawLen)+uintptr(e.partsPad))
	i := 0
	for k := uintptr(0); k < uintptr(e.nparts); k++ {
		pt := (*part)(unsafe.Add(parts, k*uintptr(partBytes)))
		switch pt.kind {
		case partLit:
			i += int(pt.n)
		case partParam:
			j := i
			for j < len(path) && path[j] != '/' {
				j++
			}
			ps = append(ps, Param{Key: unsafe.String((*byte)(unsafe.Add(blob, pt.off)), pt.n), Value: path[i:j:j]})
			i = j
		case partCatchAll:
			ps = append(ps, Param{Key: unsafe.String((*byte)(unsafe.Add(blob, pt.off)), pt.n), Value: path[i:len(path):len(path)]})
			i = len(path)
		}
	}
	return ps
}

// The tree lives in four flat arrays (an arena) and holds no Go pointers
// except in the entry lists: nodes, child-index arrays, jump tables and
// long labels are plain numbers that the garbage collector never scans,
// and a table of 100k routes is a handful of large objects rather than
// hundreds of thousands of small ones. References are indices; 0 means
// none (index 0 of every array is reserved).
//
// An arena only grows while a table is updated: a writer appends what it
// copies or creates past the end of the published arrays, where no reader
// looks, and publishes the longer slices. What an update replaced stays
// behind as garbage until the writer that finds more garbage than live
// data compacts everything into fresh arrays (compact.go).
type arena struct {
	nodes []node
	// words holds child-index arrays, aux records, jump tables and the
	// exact-uri index.
	words []uint32
	// text holds label bytes past the 16 a node keeps inline, and the
	// child maps of wide nodes.
	text []byte
	// lists holds entry lists, each a run ended by nil; an offset of 0
	// points at the nil in slot 0, the empty list.
	lists []*entry
}

// node is one vertex of the radix tree, 64 bytes, one cache line. The walk
// reads only this line to pick a child and to check a label of up to 16
// bytes: head holds the label's first 16 bytes and idx the first bytes of
// up to 16 children, so both are word operations.
//
// Children are reached through an index array (kids, in words, in the
// order of their first bytes) rather than stored side by side, so that
// copying one node on an update copies that node and its parent's small
// index array, not every sibling.
type node struct {
	head [2]uint64 // label bytes 0..15, little-endian, zero-padded
	idx  [2]uint64 // first byte of child i in byte i%8 of idx[i/8], for up to 16 children
	kids uint32    // words offset of the child-index array
	wild uint32    // the ':param' child, entered after the segment it stands for
	// exact and tail are lists offsets: the patterns that end here with
	// nothing left of the path, and the prefix and catch-all patterns that
	// accept any remainder.
	exact  uint32
	tail   uint32
	aux    uint32 // words offset of the aux record (jump table, wide child map), or 0
	text   uint32 // text offset of label bytes 16 and on
	segLen uint16 // label length (a uri is at most maxURILen bytes)
	nkids  uint16
	kcap   uint16 // capacity of the child-index array
	_      uint16
}

// The aux record of a node with more than maxPacked children or with a
// jump table: words[aux+auxMeta] holds the jump's stride (low byte) and
// its table's shape (bits 8 and up), words[aux+auxWide] the text offset
// of the 256-byte child map, words[aux+auxJump] the jump table.
const (
	auxMeta = iota
	auxWide
	auxJump
	auxWords
)

const maxPacked = 16

// findPacked returns the position of byte c in the packed word, or 8.
// Classic SWAR: xor makes matching bytes zero, then the lowest byte whose
// high bit survives (x-1)&^x is the first zero byte. Positions past the
// node's child count hold zeros and are cut off by the caller.
func findPacked(w uint64, c byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := w ^ (ones * uint64(c))
	t := (x - ones) &^ x & highs
	return bits.TrailingZeros64(t) >> 3
}

// packWord returns the first 8 bytes of s as a little-endian word,
// zero-padded.
func packWord(s string) uint64 {
	if len(s) >= 8 {
		// the compiler turns this into one 8-byte load
		return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	}
	var h uint64
	for i := len(s) - 1; i >= 0; i-- {
		h = h<<8 | uint64(s[i])
	}
	return h
}

// loadWord reads up to 8 bytes of b as a little-endian word, zero-padded.
func loadWord(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.LittleEndian.Uint64(b)
	}
	var h uint64
	for i := len(b) - 1; i >= 0; i-- {
		h = h<<8 | uint64(b[i])
	}
	return h
}

// lowBytes keeps the first n (0..8) bytes of a little-endian word.
func lowBytes(w uint64, n int) uint64 {
	if n >= 8 {
		return w
	}
	return w & (1<<(8*n) - 1)
}

// labelMatches reports whether b starts with n's label (which is no
// longer than b).
func (n *node) labelMatches(b []byte, text []byte) bool {
	l := int(n.segLen)
	if lowBytes(loadWord(b), l) != n.head[0] {
		return false
	}
	if l <= 8 {
		return true
	}
	if lowBytes(loadWord(b[8:]), l-8) != n.head[1] {
		return false
	}
	return l <= 16 || string(b[16:l]) == string(text[n.text:n.text+uint32(l-16)])
}

// labelByte returns byte j of n's label.
func (n *node) labelByte(j int, text []byte) byte {
	if j < 16 {
		return byte(n.head[j>>3] >> (8 * (j & 7)))
	}
	return text[n.text+uint32(j-16)]
}

// firstByte is the byte a parent indexes n by.
func (n *node) firstByte() byte { return byte(n.head[0]) }

// holdsRoutes reports a node with routes or a parameter child: one that
// pruning must keep.
func (n *node) holdsRoutes() bool { return n.wild != 0 || n.exact != 0 || n.tail != 0 }
