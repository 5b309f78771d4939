package route

import (
	"fmt"
	"slices"
	"strings"
)

// Helpers that look inside a Table: a canonical dump for comparing trees,
// and an invariant check of everything the walk relies on.

// compacted returns r's current tree as a compaction would leave it
// (fresh arrays, jumps planned anew), without publishing anything.
func compacted(r *Router) *Table {
	t := r.Table()
	w := writer{a: t.a, mark: t.a.lens(), root: t.root, exact: t.exact}
	c := w.compact(true)
	return &Table{a: c.a, root: c.root, exact: c.exact, count: t.count}
}

// emptyTable reports a table that holds nothing at all.
func emptyTable(t *Table) bool {
	n := &t.a.nodes[t.root]
	return n.nkids == 0 && !n.holdsRoutes() && n.aux == 0 && hcount(t.a.words, t.exact) == 0
}

func label(t *Table, n *node) string {
	b := make([]byte, n.segLen)
	for j := range b {
		b[j] = n.labelByte(j, t.a.text)
	}
	return string(b)
}

func listIDs(t *Table, off uint32, mark string) []string {
	var ids []string
	for p := off; t.a.lists[p] != nil; p++ {
		e := t.a.lists[p]
		ids = append(ids, mark+e.route.ID+e.raw())
	}
	return ids
}

// dumpTable renders the tree, children in byte order, with the jumps'
// strides and sizes when withJumps is set.
func dumpTable(t *Table, withJumps bool) string {
	var b strings.Builder
	var walk func(i uint32, depth int, prefix string)
	walk = func(i uint32, depth int, prefix string) {
		n := &t.a.nodes[i]
		ids := append(listIDs(t, n.exact, "="), listIDs(t, n.tail, "*")...)
		slices.Sort(ids)
		fmt.Fprintf(&b, "%s%s[%s] %v", strings.Repeat(" ", depth), prefix, label(t, n), ids)
		if s, p := jumpOf(t.a.words, n); withJumps && s != 0 {
			fmt.Fprintf(&b, " jump %d/%d", s, hcount(t.a.words, p))
		}
		b.WriteByte('\n')
		for k := 0; k < int(n.nkids); k++ {
			walk(t.a.words[n.kids+uint32(k)], depth+1, "")
		}
		if n.wild != 0 {
			walk(n.wild, depth+1, ":")
		}
	}
	walk(t.root, 0, "")
	return b.String()
}

// checkTable verifies the invariants of every reachable node: labels and
// their packed heads, sorted children and their index, aux records, the
// jump tables against the tree, and the exact-uri index.
func checkTable(t *Table) error {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	exactWant := map[uint64]uint32{}
	var walk func(i uint32, path string, isRoot bool)
	walk = func(i uint32, path string, isRoot bool) {
		n := &t.a.nodes[i]
		l := label(t, n)
		path += l
		if n.head[0] != packWord(l) || (len(l) > 8 && n.head[1] != packWord(l[8:])) || (len(l) <= 8 && n.head[1] != 0) {
			fail("%q: head out of step", path)
		}
		if n.nkids > n.kcap {
			fail("%q: %d children, room for %d", path, n.nkids, n.kcap)
		}
		if n.exact != 0 && t.a.lists[n.exact].isExact() {
			exactWant[exactKey(t.a.lists[n.exact].raw())] = n.exact
		}
		var idx [2]uint64
		prev := -1
		for k := 0; k < int(n.nkids); k++ {
			c := &t.a.nodes[t.a.words[n.kids+uint32(k)]]
			if c.segLen == 0 {
				fail("%q: child %d has an empty label", path, k)
				continue
			}
			fb := int(c.firstByte())
			if fb <= prev {
				fail("%q: children out of order", path)
			}
			prev = fb
			if k < maxPacked {
				idx[k>>3] |= uint64(fb) << (8 * (k & 7))
			}
			if n.nkids > maxPacked && (n.aux == 0 || t.a.text[t.a.words[n.aux+auxWide]+uint32(fb)] != byte(k)) {
				fail("%q: wide map wrong for child %d", path, k)
			}
		}
		if n.nkids <= maxPacked && idx != n.idx {
			fail("%q: packed index out of step", path)
		}
		if n.aux != 0 {
			ws := t.a.words[n.aux : n.aux+auxWords]
			if ws[auxMeta] == 0 && ws[auxWide] == 0 && ws[auxJump] == 0 {
				fail("%q: empty aux record", path)
			}
			if (ws[auxWide] != 0) != (n.nkids > maxPacked) {
				fail("%q: wide map with %d children", path, n.nkids)
			}
		}
		if s, p := jumpOf(t.a.words, n); s != 0 {
			if err := checkJump(t, n, s, p); err != nil {
				fail("%q: jump: %v", path, err)
			}
		}
		for k := 0; k < int(n.nkids); k++ {
			walk(t.a.words[n.kids+uint32(k)], path, false)
		}
		if n.wild != 0 {
			walk(n.wild, path+":", false)
		}
		_ = isRoot
	}
	walk(t.root, "", true)
	got := hall(t.a.words, t.exact, nil)
	if len(got) != len(exactWant) || hcount(t.a.words, t.exact) != len(got) {
		fail("exact index has %d keys (count %d), the tree %d exact uris", len(got), hcount(t.a.words, t.exact), len(exactWant))
	}
	for _, s := range got {
		if exactWant[s.key] != s.val {
			fail("exact index: key %x -> list %d, tree has %d", s.key, s.val, exactWant[s.key])
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// checkJump recomputes a jump's targets from the tree, plainly, and
// compares them with its table.
func checkJump(t *Table, j *node, s int, p phash) error {
	want := map[uint64]uint32{}
	var errs []string
	var walk func(n *node, depth int, key []byte)
	walk = func(n *node, depth int, key []byte) {
		for k := 0; k < int(n.nkids); k++ {
			ci := t.a.words[n.kids+uint32(k)]
			c := &t.a.nodes[ci]
			l := label(t, c)
			if depth+len(l) >= s {
				kb := append(slices.Clone(key), l[:s-depth]...)
				want[loadWord(kb)] = ci | uint32(depth)<<jumpIdxBits
				continue
			}
			if c.tail != 0 || c.wild != 0 {
				errs = append(errs, fmt.Sprintf("interior %q holds a prefix route or parameter", string(key)+l))
			}
			walk(c, depth+len(l), append(slices.Clone(key), l...))
		}
	}
	walk(j, 0, nil)
	got := hall(t.a.words, p, nil)
	if len(got) != len(want) || hcount(t.a.words, p) != len(got) {
		errs = append(errs, fmt.Sprintf("stride %d: table has %d keys (count %d), tree %d targets", s, len(got), hcount(t.a.words, p), len(want)))
	}
	for _, g := range got {
		if want[g.key] != g.val {
			errs = append(errs, fmt.Sprintf("key %q -> %d@%d, tree %d@%d", binaryKey(g.key, s), g.val&jumpIdxMask, g.val>>jumpIdxBits, want[g.key]&jumpIdxMask, want[g.key]>>jumpIdxBits))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func binaryKey(k uint64, s int) string {
	b := make([]byte, s)
	for i := range b {
		b[i] = byte(k >> (8 * i))
	}
	return string(b)
}
