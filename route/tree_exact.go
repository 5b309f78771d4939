package route

import (
	"hash/maphash"
	"slices"
)

// exactIndex finds the entries of exact uris (no ':' or '*') by a hash of
// the path, as APISIX's hash_path does before it walks its tree. Exact
// entries outrank every other kind, so when one of them passes its
// predicates the lookup is over without a walk, at a cost that depends on
// the path's length and not on how deep a big table's tree is. The
// entries stay in the tree too, which is what Explain and the fallback
// walk read.
//
// It is persistent like the tree: three levels of 64 (262,144 buckets),
// and a writer copies one array per level and one bucket per change, about
// 2.5 KB. (Two levels of 256 meant 8 KB per change, which at 100k routes
// was most of what an update allocated, and so most of its GC cost.)
type exactIndex struct {
	mids [64]*exactMid
}

type (
	exactMid  [64]*exactLeaf
	exactLeaf [64][]*entry
)

var exactSeed = maphash.MakeSeed()

func exactSlot(h uint64) (int, int, int) {
	return int(h >> 58), int(h >> 52 & 63), int(h >> 46 & 63)
}

// lookup returns the bucket that would hold path's exact entries.
func (x *exactIndex) lookup(path []byte) []*entry {
	a, b, c := exactSlot(maphash.Bytes(exactSeed, path))
	if m := x.mids[a]; m != nil {
		if l := m[b]; l != nil {
			return l[c]
		}
	}
	return nil
}

// exactChange returns an index with e added (or removed), copying what it
// changes unless this writer copied it already.
func (w *writer) exactChange(x *exactIndex, e *entry, add bool) *exactIndex {
	if x == nil {
		x = &exactIndex{}
		w.owned = map[any]bool{x: true}
	} else if !w.owned[x] {
		c := *x
		x = &c
		w.owned = map[any]bool{x: true}
	}
	a, b, c := exactSlot(maphash.String(exactSeed, e.pat.raw))
	m := x.mids[a]
	switch {
	case m == nil:
		m = &exactMid{}
		w.owned[m] = true
	case !w.owned[m]:
		cp := *m
		m = &cp
		w.owned[m] = true
	}
	x.mids[a] = m
	l := m[b]
	switch {
	case l == nil:
		l = &exactLeaf{}
		w.owned[l] = true
	case !w.owned[l]:
		cp := *l
		l = &cp
		w.owned[l] = true
	}
	m[b] = l
	if add {
		// Always a fresh array: the old bucket may be shared with the
		// published version.
		l[c] = append(slices.Clip(l[c]), e)
	} else if i := slices.Index(l[c], e); i >= 0 {
		l[c] = slices.Delete(slices.Clone(l[c]), i, i+1)
	}
	return x
}
