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
// It is persistent like the tree: 256 leaves of 256 buckets, and a writer
// copies the top array, one leaf and one bucket per change.
type exactIndex struct {
	leaves [256]*exactLeaf
}

type exactLeaf [256][]*entry

var exactSeed = maphash.MakeSeed()

func exactSlot(h uint64) (int, int) { return int(h >> 56), int(h >> 48 & 0xff) }

// lookup returns the bucket that would hold path's exact entries.
func (x *exactIndex) lookup(path []byte) []*entry {
	a, b := exactSlot(maphash.Bytes(exactSeed, path))
	if l := x.leaves[a]; l != nil {
		return l[b]
	}
	return nil
}

// with returns an index with e added (or removed), copying what it
// changes unless the writer owns it already.
func (w *writer) exactChange(x *exactIndex, e *entry, add bool) *exactIndex {
	if x == nil {
		x = &exactIndex{}
		w.ownedIdx = x
	} else if w.ownedIdx != x {
		c := *x
		x = &c
		w.ownedIdx = x
		w.ownedLeaf = [256]bool{}
	}
	a, b := exactSlot(maphash.String(exactSeed, e.pat.raw))
	l := x.leaves[a]
	switch {
	case l == nil:
		l = &exactLeaf{}
		x.leaves[a] = l
		w.ownedLeaf[a] = true
	case !w.ownedLeaf[a]:
		c := *l
		l = &c
		x.leaves[a] = l
		w.ownedLeaf[a] = true
	}
	if add {
		// Always a fresh array: the old bucket may be shared with the
		// published version.
		l[b] = append(slices.Clip(l[b]), e)
	} else if i := slices.Index(l[b], e); i >= 0 {
		l[b] = slices.Delete(slices.Clone(l[b]), i, i+1)
	}
	return x
}
