package route

import (
	"slices"
	"strings"
)

// entry is one uri of one route, hung on the node where its pattern ends.
// The rank fields are copied out of the route and the pattern so that
// ordering candidates touches only the entries.
type entry struct {
	route  *Route
	pat    *pattern
	prio   int
	seq    uint64
	keyLen uint16
	patLen uint16
	uriIdx uint16 // position in the route's uris: APISIX inserts them in order
	exact  bool
}

// before reports whether a is tried before b, APISIX's order: an exact uri
// first, then the longer literal key (the bytes before the first ':' or
// '*'), then the higher priority, then the longer uri, then the route
// configured first.
func (a *entry) before(b *entry) bool {
	if a.exact != b.exact {
		return a.exact
	}
	if a.keyLen != b.keyLen {
		return a.keyLen > b.keyLen
	}
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	if a.patLen != b.patLen {
		return a.patLen > b.patLen
	}
	if a.seq != b.seq {
		return a.seq < b.seq
	}
	return a.uriIdx < b.uriIdx
}

// node is one vertex of the radix tree. Static children are found by their
// first byte in indices, which lines up with children; a parameter segment
// has its own child, wild, whose seg is always empty because it is entered
// after the segment the walk skipped over.
//
// A node is immutable once published. Writers copy the nodes they change
// (own), tagging the copies with the write generation so that one update
// or one bulk build mutates its own copies in place and nothing else.
type node struct {
	seg      string
	indices  string
	children []*node
	wild     *node
	exact    []*entry // patterns that end here with nothing left of the path
	tail     []*entry // prefix and catch-all patterns: any remainder matches
	gen      uint64
}

// writer carries one update's generation; nodes tagged with it belong to
// the version being built and may be changed in place.
type writer struct{ gen uint64 }

func (w *writer) own(n *node) *node {
	if n.gen == w.gen {
		return n
	}
	c := *n
	c.gen = w.gen
	c.children = slices.Clone(n.children)
	c.exact = slices.Clone(n.exact)
	c.tail = slices.Clone(n.tail)
	return &c
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
			if n.wild == nil {
				n.wild = &node{gen: w.gen}
			} else {
				n.wild = w.own(n.wild)
			}
			n = n.wild
		case partCatchAll:
			// a catch-all hangs on the node where it starts, in tail
		}
	}
	if e.pat.tail {
		n.tail = append(n.tail, e)
	} else {
		n.exact = append(n.exact, e)
	}
	return root
}

// insertLit descends from the owned node n along s, splitting and creating
// nodes so that s ends on a node boundary, and returns that owned node.
func (w *writer) insertLit(n *node, s string) *node {
	for len(s) > 0 {
		k := strings.IndexByte(n.indices, s[0])
		if k < 0 {
			child := &node{seg: s, gen: w.gen}
			n.indices += s[:1]
			n.children = append(n.children, child)
			return child
		}
		child := w.own(n.children[k])
		n.children[k] = child
		l := commonPrefix(s, child.seg)
		if l < len(child.seg) {
			rest := *child
			rest.seg = child.seg[l:]
			*child = node{seg: child.seg[:l], indices: rest.seg[:1], children: []*node{&rest}, gen: w.gen}
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
	child  int // index in parent.children, or -1 for parent.wild
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
				k := strings.IndexByte(n.indices, s[0])
				if k < 0 || !strings.HasPrefix(s, n.children[k].seg) {
					return root, false
				}
				c := w.own(n.children[k])
				n.children[k] = c
				path = append(path, step{n: c, parent: n, child: k})
				s = s[len(c.seg):]
				n = c
			}
		case partParam:
			if n.wild == nil {
				return root, false
			}
			c := w.own(n.wild)
			n.wild = c
			path = append(path, step{n: c, parent: n, child: -1})
			n = c
		case partCatchAll:
		}
	}
	list := &n.exact
	if e.pat.tail {
		list = &n.tail
	}
	i := slices.Index(*list, e)
	if i < 0 {
		return root, false
	}
	*list = slices.Delete(*list, i, i+1)
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
	if len(n.exact) > 0 || len(n.tail) > 0 || n.wild != nil {
		return
	}
	p := st.parent
	switch {
	case len(n.children) == 0 && st.child < 0:
		p.wild = nil
	case len(n.children) == 0:
		k := st.child
		p.children = slices.Delete(p.children, k, k+1)
		p.indices = p.indices[:k] + p.indices[k+1:]
	case len(n.children) == 1 && st.child >= 0:
		c := w.own(n.children[0])
		c.seg = n.seg + c.seg
		p.children[st.child] = c
	}
}
