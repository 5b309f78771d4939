package route

import (
	"math/bits"
	"slices"
	"strings"
)

// entry is one uri of one route, hung on the node where its pattern ends.
// The rank fields are copied out of the route and the pattern so that
// ordering candidates touches only the entries.
type entry struct {
	route  *Route
	pat    pattern
	prio   int
	seq    uint64
	uriIdx uint16 // position in the route's uris: APISIX inserts them in order
	// plain copies Route.plain so that accepting a route without
	// predicates does not load the Route.
	plain bool
}

// before reports whether a is tried before b, APISIX's order: an exact uri
// first, then the longer literal key (the bytes before the first ':' or
// '*'), then the higher priority, then the longer uri, then the route
// configured first.
func (a *entry) before(b *entry) bool {
	if a.pat.exact != b.pat.exact {
		return a.pat.exact
	}
	if a.pat.keyLen != b.pat.keyLen {
		return a.pat.keyLen > b.pat.keyLen
	}
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	if len(a.pat.raw) != len(b.pat.raw) {
		return len(a.pat.raw) > len(b.pat.raw)
	}
	if a.seq != b.seq {
		return a.seq < b.seq
	}
	return a.uriIdx < b.uriIdx
}

// node is one vertex of the radix tree. The walk never touches the bytes
// of seg or of an index string for the usual node: head holds seg's first
// eight bytes and idx the first bytes of up to sixteen children (ten
// digits fit), so choosing a child and checking its label are a few word
// operations on the node itself. A node with more children keeps their
// first bytes in ext.wide. Everything else the walk does not need at every
// node lives behind ext, which is nil on nodes that only lead somewhere.
//
// A node is immutable once published. A writer copies what it changes
// along the path (own) and mutates only the copies, which carry its
// generation.
//
// Field order is the walk's: everything it reads at a node sits in the
// first 64 bytes.
type node struct {
	head uint64    // seg[:8], little-endian, zero-padded
	idx  [2]uint64 // children[i].seg[0] in byte i%8 of idx[i/8], for up to 16 children
	ext  *nodeExt
	seg  string
	// children are stored by value, side by side: the walk goes from a
	// node to its child with one load fewer than through pointers, and a
	// node's whole family is one allocation.
	children []node
	gen      uint64 // the write generation that owns children and ext
}

type nodeExt struct {
	// wild is the child for a parameter segment. Its seg is always empty:
	// it is entered after the segment the walk skipped over.
	wild  *node
	exact []*entry // patterns that end here with nothing left of the path
	tail  []*entry // prefix and catch-all patterns: any remainder matches
	wide  string   // children's first bytes when there are more than maxPacked
}

const maxPacked = 16

func packHead(s string) uint64 {
	var h uint64
	for i := 0; i < len(s) && i < 8; i++ {
		h |= uint64(s[i]) << (8 * i)
	}
	return h
}

func (n *node) setSeg(s string) {
	n.seg = s
	n.head = packHead(s)
}

// reindex recomputes the child index after children changed.
func (n *node) reindex() {
	n.idx = [2]uint64{}
	if len(n.children) <= maxPacked {
		for i := range n.children {
			n.idx[i/8] |= uint64(n.children[i].seg[0]) << (8 * (i % 8))
		}
		if n.ext != nil {
			n.ext.wide = ""
		}
		return
	}
	b := make([]byte, len(n.children))
	for i := range n.children {
		b[i] = n.children[i].seg[0]
	}
	if n.ext == nil {
		n.ext = &nodeExt{}
	}
	n.ext.wide = string(b)
}

// child returns the index of the child whose label starts with c, or -1.
func (n *node) child(c byte) int {
	if len(n.children) <= maxPacked {
		k := findPacked(n.idx[0], c)
		if k == 8 && len(n.children) > 8 {
			k = 8 + findPacked(n.idx[1], c)
		}
		if k >= len(n.children) {
			return -1
		}
		return k
	}
	return strings.IndexByte(n.ext.wide, c)
}

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

// holdsRoutes reports a node with routes or a parameter child.
func (n *node) holdsRoutes() bool {
	return n.ext != nil && (n.ext.wild != nil || len(n.ext.exact) > 0 || len(n.ext.tail) > 0)
}

// trimExt drops an extension that no longer holds anything.
func (n *node) trimExt() {
	if x := n.ext; x != nil && x.wild == nil && len(x.exact) == 0 && len(x.tail) == 0 && x.wide == "" {
		n.ext = nil
	}
}

func (n *node) wild() *node {
	if n.ext == nil {
		return nil
	}
	return n.ext.wild
}

// writer is one update (or one bulk build). Every node it creates or
// copies carries its generation; those, and only those, it changes in
// place. Generations only grow, so a published node never carries the
// generation of a later writer.
type writer struct {
	gen uint64
	// A bulk build carves extensions and one-entry route lists out of
	// chunks: fewer allocations, and less for the GC to trace while the
	// heap grows.
	bulk bool
	exts []nodeExt
	ptrs []*entry
	// the arrays of the exact-uri index this writer has copied
	owned map[any]bool
}

const chunk = 1024

// ownIn makes n, which already sits in memory this writer owns (a copied
// parent's children, a copied root or wild node), own its children and
// extension too, by copying them.
func (w *writer) ownIn(n *node) {
	if n.gen == w.gen {
		return
	}
	n.gen = w.gen
	n.children = slices.Clone(n.children)
	if x := n.ext; x != nil {
		n.ext = &nodeExt{wild: x.wild, exact: slices.Clone(x.exact), tail: slices.Clone(x.tail), wide: x.wide}
	}
}

// own returns an owned copy of a node held by pointer (the root, a wild
// child).
func (w *writer) own(n *node) *node {
	if n.gen == w.gen {
		return n
	}
	c := *n
	w.ownIn(&c)
	return &c
}

// ext returns the owned node n's extension, creating it.
func (w *writer) ext(n *node) *nodeExt {
	if n.ext != nil {
		return n.ext
	}
	if !w.bulk {
		n.ext = &nodeExt{}
		return n.ext
	}
	if len(w.exts) == cap(w.exts) {
		w.exts = make([]nodeExt, 0, chunk)
	}
	w.exts = append(w.exts, nodeExt{})
	n.ext = &w.exts[len(w.exts)-1]
	return n.ext
}

// addEntry appends e to a route list of an owned node. In a bulk build a
// first entry takes a one-slot window of a shared chunk; a second append
// then moves the list out on its own.
func (w *writer) addEntry(list []*entry, e *entry) []*entry {
	if !w.bulk || list != nil {
		return append(list, e)
	}
	if len(w.ptrs) == cap(w.ptrs) {
		w.ptrs = make([]*entry, 0, chunk)
	}
	w.ptrs = append(w.ptrs, e)
	i := len(w.ptrs) - 1
	return w.ptrs[i : i+1 : i+1]
}

// insert hangs e under root and returns the (possibly copied) root.
func (w *writer) insert(root *node, e *entry) *node {
	root = w.own(root)
	n := root
	for _, pt := range e.pat.parts {
		switch pt.kind {
		case partLit:
			n = w.insertLit(n, pt.text)
		case partParam:
			x := w.ext(n)
			if x.wild == nil {
				x.wild = &node{gen: w.gen}
			} else {
				x.wild = w.own(x.wild)
			}
			n = x.wild
		case partCatchAll:
			// a catch-all hangs on the node where it starts, in tail
		}
	}
	x := w.ext(n)
	if e.pat.tail {
		x.tail = w.addEntry(x.tail, e)
	} else {
		x.exact = w.addEntry(x.exact, e)
	}
	return root
}

// insertLit descends from the owned node n along s, splitting and creating
// nodes so that s ends on a node boundary, and returns that owned node.
// The pointer is only good until n's children change again.
func (w *writer) insertLit(n *node, s string) *node {
	for len(s) > 0 {
		k := n.child(s[0])
		if k < 0 {
			n.children = append(n.children, node{seg: s, head: packHead(s), gen: w.gen})
			n.reindex()
			return &n.children[len(n.children)-1]
		}
		child := &n.children[k]
		w.ownIn(child)
		l := commonPrefix(s, child.seg)
		if l < len(child.seg) {
			rest := *child
			rest.setSeg(child.seg[l:])
			*child = node{children: []node{rest}, gen: w.gen}
			child.setSeg(s[:l])
			child.reindex()
		}
		s = s[l:]
		n = child
	}
	return n
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// step records how the remove walk reached a node, so that it can prune on
// the way back up without recursion or parent pointers in the tree.
type step struct {
	n      *node
	parent *node
	child  int // index in parent.children, or -1 for parent's wild child
}

// remove takes e off the tree and returns the new root. It reports false
// when e is not where its pattern says, which means the writer's index and
// the tree disagree.
func (w *writer) remove(root *node, e *entry) (*node, bool) {
	root = w.own(root)
	path := []step{{n: root, child: -1}}
	n := root
	for _, pt := range e.pat.parts {
		switch pt.kind {
		case partLit:
			s := pt.text
			for len(s) > 0 {
				k := n.child(s[0])
				if k < 0 || !strings.HasPrefix(s, n.children[k].seg) {
					return root, false
				}
				c := &n.children[k]
				w.ownIn(c)
				path = append(path, step{n: c, parent: n, child: k})
				s = s[len(c.seg):]
				n = c
			}
		case partParam:
			if n.wild() == nil {
				return root, false
			}
			c := w.own(n.ext.wild)
			n.ext.wild = c
			path = append(path, step{n: c, parent: n, child: -1})
			n = c
		case partCatchAll:
		}
	}
	if n.ext == nil {
		return root, false
	}
	list := &n.ext.exact
	if e.pat.tail {
		list = &n.ext.tail
	}
	i := slices.Index(*list, e)
	if i < 0 {
		return root, false
	}
	*list = slices.Delete(*list, i, i+1)
	n.trimExt()
	// Bottom-up, so that changing a parent's children never moves a node
	// still to be visited: those are all ancestors.
	for j := len(path) - 1; j > 0; j-- {
		w.prune(path[j])
	}
	return root, true
}

// prune drops an empty node from its parent and folds a static node that
// only leads to one static child into that child, so deletes keep the tree
// as compact as a fresh build would be.
func (w *writer) prune(st step) {
	n := st.n
	if n.holdsRoutes() || len(n.children) > 1 {
		return
	}
	p := st.parent
	switch {
	case len(n.children) == 0 && st.child < 0:
		p.ext.wild = nil
		p.trimExt()
	case len(n.children) == 0:
		k := st.child
		p.children = slices.Delete(p.children, k, k+1)
		p.reindex()
		p.trimExt()
	case st.child >= 0:
		c := &n.children[0]
		w.ownIn(c)
		c.setSeg(n.seg + c.seg)
		p.children[st.child] = *c
	}
}

// compact gives every children array of a freshly built tree its exact
// size. Appending one child at a time leaves up to half of each array
// empty; one copy per node at the end is cheaper than exact growth all
// along, and frees a tenth of the table's memory.
func compact(root *node) {
	stack := []*node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if cap(n.children) > len(n.children) {
			n.children = slices.Clone(n.children)
		}
		for i := range n.children {
			stack = append(stack, &n.children[i])
		}
		if w := n.wild(); w != nil {
			stack = append(stack, w)
		}
	}
}
