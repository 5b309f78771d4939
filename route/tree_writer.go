package route

import (
	"math/bits"
	"slices"
)

// writer is one update (or one bulk build) of an arena. Everything at or
// past mark was appended by this writer, no reader can see it yet, and the
// writer changes it in place; everything before mark is published and is
// copied before it changes (copy-on-write), which is how an update costs
// the nodes along its uris and not the table.
//
// Indices are stable but pointers into the arrays are not: an append can
// move an array. Code here takes a *node only between appends.
type writer struct {
	a     arena
	mark  arenaLen
	root  uint32
	exact phash
	// dead counts what this version no longer reaches, for the compaction
	// policy. It need not be exact.
	dead arenaLen
	plan planState
	// bulk is set for Build: child arrays grow by doubling, and the exact
	// index and jump tables are left to finishBulk.
	bulk bool
}

type arenaLen struct{ nodes, words, text, lists int }

func (a *arena) lens() arenaLen {
	return arenaLen{len(a.nodes), len(a.words), len(a.text), len(a.lists)}
}

// newArena returns an arena with index 0 of every array reserved, sized
// for about n nodes.
func newArena(n int) arena {
	a := arena{
		nodes: make([]node, 1, max(n, 16)),
		words: make([]uint32, 1, max(2*n, 64)),
		text:  make([]byte, 1, max(n, 64)),
		lists: make([]*entry, 1, max(n/2, 16)),
	}
	return a
}

func (w *writer) nd(i uint32) *node { return &w.a.nodes[i] }

// room returns s with capacity for n more elements. A full array moves to
// one twice its size (append would grow a large one by a quarter, and so
// copy it four times as often).
func room[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	c := make([]T, len(s), max(2*cap(s), len(s)+n))
	copy(c, s)
	return c
}

func (w *writer) newNode(n node) uint32 {
	w.a.nodes = append(room(w.a.nodes, 1), n)
	return uint32(len(w.a.nodes) - 1)
}

func (w *writer) owned(i uint32) bool { return int(i) >= w.mark.nodes }

// own returns node i itself if this writer created it, else a copy; the
// caller puts the returned index where i was.
func (w *writer) own(i uint32) uint32 {
	if w.owned(i) {
		return i
	}
	w.dead.nodes++
	return w.newNode(*w.nd(i))
}

// allocWords appends n zero words and returns their offset.
func (w *writer) allocWords(n int) uint32 {
	off := len(w.a.words)
	w.a.words = room(w.a.words, n)[:off+n]
	clear(w.a.words[off:])
	return uint32(off)
}

// copyWords appends a copy of words[off:off+n] and returns its offset.
func (w *writer) copyWords(off uint32, n int) uint32 {
	c := w.allocWords(n)
	copy(w.a.words[c:], w.a.words[off:off+uint32(n)])
	return c
}

// kid returns the index of child k of node p.
func (w *writer) kid(p uint32, k int) uint32 { return w.a.words[w.nd(p).kids+uint32(k)] }

// ownKids makes the owned node p's child-index array its own, with room
// for extra more children.
func (w *writer) ownKids(p uint32, extra int) {
	n := w.nd(p)
	nk, kc := int(n.nkids), int(n.kcap)
	if int(n.kids) >= w.mark.words && nk+extra <= kc {
		return
	}
	c := nk + extra
	if w.bulk && extra > 0 {
		c = max(2*nk, 2)
	}
	if c == 0 {
		return
	}
	off := w.allocWords(c)
	n = w.nd(p)
	copy(w.a.words[off:], w.a.words[n.kids:n.kids+uint32(nk)])
	w.dead.words += kc
	n.kids, n.kcap = off, uint16(c)
}

// ownKid makes child k of the owned node p owned and returns its index.
func (w *writer) ownKid(p uint32, k int) uint32 {
	c := w.kid(p, k)
	if w.owned(c) {
		return c
	}
	w.ownKids(p, 0)
	c = w.own(c)
	w.a.words[w.nd(p).kids+uint32(k)] = c
	return c
}

// ownWild makes the owned node p's wild child owned and returns it.
func (w *writer) ownWild(p uint32) uint32 {
	c := w.own(w.nd(p).wild)
	w.nd(p).wild = c
	return c
}

// findKid returns the position of p's child whose label starts with c, or
// where such a child would go, and whether it is there.
func (w *writer) findKid(p uint32, c byte) (int, bool) {
	n := w.nd(p)
	nk := int(n.nkids)
	if nk <= maxPacked {
		k := findPacked(n.idx[0], c)
		if k == 8 && nk > 8 {
			k = 8 + findPacked(n.idx[1], c)
		}
		if k < nk {
			return k, true
		}
		for k = 0; k < nk && byte(n.idx[k>>3]>>(8*(k&7))) < c; k++ {
		}
		return k, false
	}
	kids := w.a.words[n.kids : n.kids+uint32(nk)]
	k, found := slices.BinarySearchFunc(kids, c, func(i uint32, c byte) int {
		return int(w.a.nodes[i].firstByte()) - int(c)
	})
	return k, found
}

// insertKid puts c in the owned p's children at position k.
func (w *writer) insertKid(p uint32, k int, c uint32) {
	w.ownKids(p, 1)
	n := w.nd(p)
	kids := w.a.words[n.kids : n.kids+uint32(n.nkids)+1]
	copy(kids[k+1:], kids[k:])
	kids[k] = c
	n.nkids++
	switch {
	case n.nkids <= maxPacked:
		// shift the packed first bytes instead of reading every child
		var b [maxPacked]byte
		for i := range b {
			b[i] = byte(n.idx[i>>3] >> (8 * (i & 7)))
		}
		copy(b[k+1:], b[k:])
		b[k] = w.a.nodes[c].firstByte()
		n.idx = [2]uint64{}
		for i, x := range b[:n.nkids] {
			n.idx[i>>3] |= uint64(x) << (8 * (i & 7))
		}
	case !w.bulk:
		w.reindex(p)
	}
	// A bulk build maps its wide nodes' children once, in finishBulk.
}

// removeKid drops child k of the owned p.
func (w *writer) removeKid(p uint32, k int) {
	w.ownKids(p, 0)
	n := w.nd(p)
	kids := w.a.words[n.kids : n.kids+uint32(n.nkids)]
	copy(kids[k:], kids[k+1:])
	n.nkids--
	w.reindex(p)
}

// reindex recomputes the owned p's child index after its children
// changed: the packed first bytes, or the child map of a wide node.
func (w *writer) reindex(p uint32) {
	n := w.nd(p)
	n.idx = [2]uint64{}
	nk := int(n.nkids)
	if nk <= maxPacked {
		for k := 0; k < nk; k++ {
			b := w.a.nodes[w.a.words[n.kids+uint32(k)]].firstByte()
			n.idx[k>>3] |= uint64(b) << (8 * (k & 7))
		}
		if n.aux != 0 && w.a.words[n.aux+auxWide] != 0 {
			w.setAux(p, auxWide, 0)
		}
		return
	}
	off := len(w.a.text)
	w.a.text = room(w.a.text, 256)[:off+256]
	m := w.a.text[off:]
	clear(m)
	n = w.nd(p)
	for k := 0; k < nk; k++ {
		m[w.a.nodes[w.a.words[n.kids+uint32(k)]].firstByte()] = byte(k)
	}
	w.setAux(p, auxWide, uint32(off))
}

// setAux sets one field of the owned p's aux record, copying the record
// first if it is published, and drops the record when it ends up empty.
func (w *writer) setAux(p uint32, field int, v uint32) {
	n := w.nd(p)
	ax := n.aux
	if ax == 0 {
		if v == 0 {
			return
		}
		ax = w.allocWords(auxWords)
	} else if int(ax) < w.mark.words {
		ax = w.copyWords(ax, auxWords)
		w.dead.words += auxWords
	}
	ws := w.a.words[ax : ax+auxWords]
	if field == auxWide && ws[auxWide] != 0 {
		w.dead.text += 256
	}
	ws[field] = v
	if ws[auxMeta] == 0 && ws[auxWide] == 0 && ws[auxJump] == 0 {
		ax = 0
	}
	w.nd(p).aux = ax
}

// seg returns node i's label as a string (writers only: it allocates).
func (w *writer) seg(i uint32) string {
	n := w.nd(i)
	b := make([]byte, n.segLen)
	for j := range b {
		b[j] = n.labelByte(j, w.a.text)
	}
	return string(b)
}

// setSeg gives node i the label s.
func (w *writer) setSeg(i uint32, s string) {
	var t uint32
	if len(s) > 16 {
		t = uint32(len(w.a.text))
		w.a.text = append(room(w.a.text, len(s)-16), s[16:]...)
	}
	n := w.nd(i)
	if n.segLen > 16 {
		w.dead.text += int(n.segLen) - 16
	}
	n.segLen, n.text = uint16(len(s)), t
	n.head = [2]uint64{packWord(s), 0}
	if len(s) > 8 {
		n.head[1] = packWord(s[8:])
	}
}

// commonPrefix returns how many leading bytes s shares with node i's label.
func (w *writer) commonPrefix(i uint32, s string) int {
	n := w.nd(i)
	l := min(int(n.segLen), len(s))
	// a word at a time through head, then byte by byte through text
	for j := 0; j < 16 && j < l; j += 8 {
		if x := packWord(s[j:]) ^ n.head[j>>3]; x != 0 {
			return min(j+bits.TrailingZeros64(x)>>3, l)
		}
	}
	j := min(16, l)
	for j < l && n.text != 0 && w.a.text[n.text+uint32(j-16)] == s[j] {
		j++
	}
	return j
}

// list returns the entries of the list at off.
func (w *writer) list(off uint32) []*entry {
	e := off
	for w.a.lists[e] != nil {
		e++
	}
	return w.a.lists[off:e]
}

// newList writes es as a list and returns its offset (0 for none).
func (w *writer) newList(es ...*entry) uint32 {
	if len(es) == 0 {
		return 0
	}
	off := len(w.a.lists)
	w.a.lists = append(room(w.a.lists, len(es)+1), es...)
	w.a.lists = append(w.a.lists, nil)
	return uint32(off)
}

// addEntry returns the offset of list off with e appended, reusing the
// list in place when this writer wrote it last.
func (w *writer) addEntry(off uint32, e *entry) uint32 {
	if off == 0 {
		return w.newList(e)
	}
	old := w.list(off)
	if end := int(off) + len(old); end == len(w.a.lists)-1 && int(off) >= w.mark.lists {
		w.a.lists[end] = e
		w.a.lists = append(room(w.a.lists, 1), nil)
		return off
	}
	w.dead.lists += len(old) + 1
	return w.newList(append(slices.Clip(old), e)...)
}

// dropEntry returns the offset of list off without e, and whether e was
// in it.
func (w *writer) dropEntry(off uint32, e *entry) (uint32, bool) {
	if off == 0 {
		return 0, false
	}
	old := w.list(off)
	i := slices.Index(old, e)
	if i < 0 {
		return off, false
	}
	w.dead.lists += len(old) + 1
	return w.newList(slices.Delete(slices.Clone(old), i, i+1)...), true
}

// insert hangs e in the tree and keeps the exact-uri index and the jump
// tables on its path in step.
func (w *writer) insert(e *entry) {
	w.root = w.own(w.root)
	n := w.root
	for k := range e.numParts() {
		switch pt := e.part(k); pt.kind {
		case partLit:
			n = w.insertLit(n, e.partText(pt))
		case partParam:
			if w.nd(n).wild == 0 {
				c := w.newNode(node{})
				w.nd(n).wild = c
				n = c
			} else {
				n = w.ownWild(n)
			}
		case partCatchAll:
			// a catch-all hangs on the node where it starts, in tail
		}
	}
	if e.isTail() {
		off := w.addEntry(w.nd(n).tail, e)
		w.nd(n).tail = off
	} else {
		off := w.addEntry(w.nd(n).exact, e)
		w.nd(n).exact = off
		if e.isExact() && !w.bulk {
			w.exact = w.hput(w.exact, exactKey(e.raw()), off)
		}
	}
	if !w.bulk {
		w.fixJumps(e)
	}
}

// insertLit descends from the owned node n along s, splitting and creating
// nodes so that s ends on a node boundary, and returns that owned node.
func (w *writer) insertLit(n uint32, s string) uint32 {
	for len(s) > 0 {
		k, found := w.findKid(n, s[0])
		if !found {
			c := w.newNode(node{})
			w.setSeg(c, s)
			w.insertKid(n, k, c)
			return c
		}
		c := w.ownKid(n, k)
		l := w.commonPrefix(c, s)
		if l < int(w.nd(c).segLen) {
			w.split(c, l)
		}
		s = s[l:]
		n = c
	}
	return n
}

// split cuts the owned node c's label after l bytes: c keeps the first
// part and gets one child, a new node with the rest of the label and
// everything c held.
func (w *writer) split(c uint32, l int) {
	label := w.seg(c)
	low := w.newNode(*w.nd(c))
	w.nd(low).segLen = 0 // its text is c's, which c keeps
	w.setSeg(low, label[l:])
	kids := w.allocWords(2)
	w.a.words[kids] = low
	*w.nd(c) = node{kids: kids, nkids: 1, kcap: 2}
	w.setSeg(c, label[:l])
	w.reindex(c)
}

// step records how the remove walk reached a node, so that it can prune on
// the way back up without recursion or parent pointers in the tree.
type step struct {
	n, parent uint32
	child     int // position in parent's children, or -1 for parent's wild child
}

// remove takes e off the tree. It reports false when e is not where its
// pattern says, which means the writer's index and the tree disagree.
func (w *writer) remove(e *entry) bool {
	w.root = w.own(w.root)
	path := []step{{n: w.root, child: -1}}
	n := w.root
	for k := range e.numParts() {
		switch pt := e.part(k); pt.kind {
		case partLit:
			s := e.partText(pt)
			for len(s) > 0 {
				k, found := w.findKid(n, s[0])
				if !found {
					return false
				}
				if !w.hasPrefixLabel(s, w.kid(n, k)) {
					return false
				}
				c := w.ownKid(n, k)
				path = append(path, step{n: c, parent: n, child: k})
				s = s[w.nd(c).segLen:]
				n = c
			}
		case partParam:
			if w.nd(n).wild == 0 {
				return false
			}
			c := w.ownWild(n)
			path = append(path, step{n: c, parent: n, child: -1})
			n = c
		case partCatchAll:
		}
	}
	var ok bool
	if e.isTail() {
		var off uint32
		off, ok = w.dropEntry(w.nd(n).tail, e)
		w.nd(n).tail = off
	} else {
		var off uint32
		off, ok = w.dropEntry(w.nd(n).exact, e)
		w.nd(n).exact = off
		if ok && e.isExact() && !w.bulk {
			w.exact = w.hput(w.exact, exactKey(e.raw()), off)
		}
	}
	if !ok {
		return false
	}
	// Bottom-up, so that changing a parent's children never moves a node
	// still to be visited: those are all ancestors.
	for j := len(path) - 1; j > 0; j-- {
		w.prune(path[j])
	}
	if !w.bulk {
		w.fixJumps(e)
	}
	return true
}

// prune drops an empty node from its parent and folds a static node that
// only leads to one static child into that child, so deletes keep the tree
// as compact as a fresh build would be.
func (w *writer) prune(st step) {
	n := w.nd(st.n)
	if n.holdsRoutes() || n.nkids > 1 {
		return
	}
	switch {
	case n.nkids == 0 && st.child < 0:
		w.dead.nodes++
		w.nd(st.parent).wild = 0
	case n.nkids == 0:
		w.dead.nodes++
		w.removeKid(st.parent, st.child)
	case st.child >= 0:
		// st.n takes over its only child's content under the joined label.
		c := w.kid(st.n, 0)
		label := w.seg(st.n) + w.seg(c)
		w.dead.nodes++
		if n.aux != 0 {
			w.dead.words += auxWords
		}
		w.dead.words += int(n.kcap)
		*w.nd(st.n) = *w.nd(c)
		w.nd(st.n).segLen = 0 // the text is c's, which published tables still read
		w.setSeg(st.n, label)
	}
}

// hasPrefixLabel reports whether s starts with node i's whole label.
func (w *writer) hasPrefixLabel(s string, i uint32) bool {
	l := int(w.nd(i).segLen)
	return l <= len(s) && w.commonPrefix(i, s) == l
}
