package route

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// phash is a persistent hash from uint64 keys to nonzero uint32 values,
// stored in an arena's words. It serves the exact-uri index (key: a hash
// of the uri, value: the entry list) and the jump tables (key: up to 8
// path bytes, value: a node).
//
// Layout: ref points at [count, dir...]. The keys' hashes pick one of
// 1<<(tb+mb) chunks of 32 slots of [key low, key high, value], probed
// linearly from a slot the hash also picks; a chunk holds 8 to 16 keys on
// average, so a probe is short and a full chunk (which grows the table)
// is rare. With tb == 0 the dir is the 1<<mb chunk
// offsets; otherwise it is 1<<tb offsets of middle arrays of 64 chunk
// offsets each. A change copies at most the dir (at most 64 words), one
// middle array and one chunk: about 600 bytes, whatever the table's size.
type phash struct {
	ref  uint32 // words offset of the header; 0 for an empty table
	bits uint32 // tb | mb<<8
}

const (
	chunkSlots = 32
	slotWords  = 3
	chunkWords = chunkSlots * slotWords
	maxMidBits = 6
)

var hashSeed = rand.Uint64()

// mixKey spreads a key over 64 bits: the two halves of a 128-bit product
// folded together (wyhash's mum), over a per-process seed. One multiply:
// the walk pays for it on every jump.
func mixKey(k uint64) uint64 {
	hi, lo := bits.Mul64(k^hashSeed, 0x9E3779B97F4A7C15)
	return hi ^ lo
}

var exactSeed = maphash.MakeSeed()

// exactKey is the exact index's key for a uri; lookups hash the path the
// same way (maphash.Bytes and maphash.String agree).
func exactKey(uri string) uint64 { return maphash.String(exactSeed, uri) }

func (p phash) shape() (tb, mb uint32) { return p.bits & 0xff, p.bits >> 8 }

// chunkOf returns the offset of the chunk that holds key's slot, or 0.
func (p phash) chunkOf(words []uint32, h uint64) uint32 {
	tb, mb := p.shape()
	d := p.ref + 1
	if tb != 0 {
		d = words[d+uint32(h>>(64-tb))]
		if d == 0 {
			return 0
		}
	}
	return words[d+uint32(h>>(64-tb-mb))&(1<<mb-1)]
}

// hget returns key's value, or 0.
func hget(words []uint32, p phash, key uint64) uint32 {
	if p.ref == 0 {
		return 0
	}
	h := mixKey(key)
	c := p.chunkOf(words, h)
	if c == 0 {
		return 0
	}
	lo, hi := uint32(key), uint32(key>>32)
	s := uint32(h) & (chunkSlots - 1)
	for range chunkSlots {
		o := c + s*slotWords
		v := words[o+2]
		if v == 0 {
			return 0
		}
		if words[o] == lo && words[o+1] == hi {
			return v
		}
		s = (s + 1) & (chunkSlots - 1)
	}
	return 0
}

// hcount returns the number of keys.
func hcount(words []uint32, p phash) int {
	if p.ref == 0 {
		return 0
	}
	return int(words[p.ref])
}

// hslot is one key and its value.
type hslot struct {
	key uint64
	val uint32
}

// hall appends every key and value of p to out.
func hall(words []uint32, p phash, out []hslot) []hslot {
	if p.ref == 0 {
		return out
	}
	tb, mb := p.shape()
	chunk := func(c uint32) {
		if c == 0 {
			return
		}
		for s := uint32(0); s < chunkSlots; s++ {
			o := c + s*slotWords
			if v := words[o+2]; v != 0 {
				out = append(out, hslot{uint64(words[o]) | uint64(words[o+1])<<32, v})
			}
		}
	}
	dir := words[p.ref+1:]
	if tb == 0 {
		for _, c := range dir[:1<<mb] {
			chunk(c)
		}
		return out
	}
	for _, m := range dir[:1<<tb] {
		if m != 0 {
			for _, c := range words[m : m+1<<mb] {
				chunk(c)
			}
		}
	}
	return out
}

// hbuild writes a new table holding slots (keys distinct, values nonzero).
func (w *writer) hbuild(slots []hslot, minChunks int) phash {
	if len(slots) == 0 {
		return phash{}
	}
	n := max(minChunks, (len(slots)+15)/16, 1)
	lg := uint32(bits.Len(uint(n - 1)))
	mb := min(lg, maxMidBits)
	tb := lg - mb
	p := phash{bits: tb | mb<<8}
	dirLen := 1 << mb
	if tb != 0 {
		dirLen = 1 << tb
	}
	p.ref = w.allocWords(1 + dirLen)
	// Everything here is this writer's and new: no copies, no checks for
	// keys already present.
	for _, s := range slots {
		h := mixKey(s.key)
		slot := p.ref + 1
		if tb != 0 {
			slot += uint32(h >> (64 - tb))
			m := w.a.words[slot]
			if m == 0 {
				m = w.allocWords(1 << mb)
				w.a.words[slot] = m
			}
			slot = m
		}
		slot += uint32(h>>(64-tb-mb)) & (1<<mb - 1)
		c := w.a.words[slot]
		if c == 0 {
			c = w.allocWords(chunkWords)
			w.a.words[slot] = c
		}
		ch := w.a.words[c : c+chunkWords]
		o, ok := uint32(h)&(chunkSlots-1), false
		for range chunkSlots {
			if ch[o*slotWords+2] == 0 {
				ch[o*slotWords], ch[o*slotWords+1], ch[o*slotWords+2] = uint32(s.key), uint32(s.key>>32), s.val
				ok = true
				break
			}
			o = (o + 1) & (chunkSlots - 1)
		}
		if !ok {
			return w.hbuild(slots, 2<<lg) // a full chunk: twice the chunks
		}
	}
	w.a.words[p.ref] = uint32(len(slots))
	return p
}

// hput returns p with key set to val (val 0 deletes key), copying what it
// changes unless this writer wrote it.
func (w *writer) hput(p phash, key uint64, val uint32) phash {
	if hget(w.a.words, p, key) == val {
		return p
	}
	if p.ref == 0 {
		return w.hbuild([]hslot{{key, val}}, 1)
	}
	tb, mb := p.shape()
	chunks := 1 << (tb + mb)
	if val != 0 && hcount(w.a.words, p) >= 16*chunks {
		return w.hgrow(p, key, val, 2*chunks)
	}
	np, ok := w.hset(p, key, val)
	if !ok {
		return w.hgrow(p, key, val, 2*chunks)
	}
	return np
}

// hgrow rebuilds p with key set to val and at least chunks chunks.
func (w *writer) hgrow(p phash, key uint64, val uint32, chunks int) phash {
	all := hall(w.a.words, p, nil)
	w.dead.words += hsize(p, len(all))
	all = slices.DeleteFunc(all, func(s hslot) bool { return s.key == key })
	if val != 0 {
		all = append(all, hslot{key, val})
	}
	return w.hbuild(all, chunks)
}

// hsize estimates the words a table takes, for the garbage count.
func hsize(p phash, n int) int {
	tb, mb := p.shape()
	return 1 + 1<<tb + (1<<(tb+mb))*chunkWords/2 + n
}

// hset sets key to val (0 deletes) in p, copying the header, the middle
// array and the chunk on the way unless this writer wrote them. It
// reports false, having changed nothing visible, when the chunk is full.
func (w *writer) hset(p phash, key uint64, val uint32) (phash, bool) {
	tb, mb := p.shape()
	dirLen := 1 << mb
	if tb != 0 {
		dirLen = 1 << tb
	}
	h := mixKey(key)
	// Check for room first, so that a full chunk costs no copies.
	if c := p.chunkOf(w.a.words, h); val != 0 && c != 0 && hget(w.a.words, p, key) == 0 {
		full := true
		for s := uint32(0); s < chunkSlots; s++ {
			if w.a.words[c+s*slotWords+2] == 0 {
				full = false
				break
			}
		}
		if full {
			return p, false
		}
	}
	ref := p.ref
	if int(ref) < w.mark.words {
		ref = w.copyWords(ref, 1+dirLen)
		w.dead.words += 1 + dirLen
	}
	slot := ref + 1 // the dir entry that leads to the chunk
	if tb != 0 {
		slot += uint32(h >> (64 - tb))
		m := w.a.words[slot]
		switch {
		case m == 0:
			m = w.allocWords(1 << mb)
		case int(m) < w.mark.words:
			m = w.copyWords(m, 1<<mb)
			w.dead.words += 1 << mb
		}
		w.a.words[slot] = m
		slot = m
	}
	slot += uint32(h>>(64-tb-mb)) & (1<<mb - 1)
	c := w.a.words[slot]
	switch {
	case c == 0:
		c = w.allocWords(chunkWords)
	case int(c) < w.mark.words:
		c = w.copyWords(c, chunkWords)
		w.dead.words += chunkWords
	}
	w.a.words[slot] = c
	ch := w.a.words[c : c+chunkWords]
	lo, hi := uint32(key), uint32(key>>32)
	s := uint32(h) & (chunkSlots - 1)
	for range chunkSlots {
		o := s * slotWords
		switch {
		case ch[o+2] == 0:
			if val != 0 {
				ch[o], ch[o+1], ch[o+2] = lo, hi, val
				w.a.words[ref]++
			}
			return phash{ref, p.bits}, true
		case ch[o] == lo && ch[o+1] == hi:
			if val != 0 {
				ch[o+2] = val
			} else {
				chunkDelete(ch, s)
				w.a.words[ref]--
			}
			return phash{ref, p.bits}, true
		}
		s = (s + 1) & (chunkSlots - 1)
	}
	return p, false // not reached: the room check above found a free slot
}

// chunkDelete empties slot s of a chunk and moves the keys probed after
// it back towards their home slots, so that no probe stops early.
func chunkDelete(ch []uint32, s uint32) {
	ch[s*slotWords+2] = 0
	for q := (s + 1) & (chunkSlots - 1); ; q = (q + 1) & (chunkSlots - 1) {
		o := q * slotWords
		if ch[o+2] == 0 {
			return
		}
		lo, hi, v := ch[o], ch[o+1], ch[o+2]
		ch[o+2] = 0
		t := uint32(mixKey(uint64(lo)|uint64(hi)<<32)) & (chunkSlots - 1)
		for ch[t*slotWords+2] != 0 {
			t = (t + 1) & (chunkSlots - 1)
		}
		ch[t*slotWords], ch[t*slotWords+1], ch[t*slotWords+2] = lo, hi, v
	}
}
