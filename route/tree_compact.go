package route

// Compaction copies the live part of an arena into fresh arrays: what
// updates replaced is left behind for the garbage collector, child arrays
// get their exact size and siblings land side by side. Jump tables and
// the exact-uri index are copied as they are, with their node and list
// offsets renumbered; jumps are planned anew only when asked (a jump an
// update had to drop, or a table that has doubled since its last plan).
// An update runs a compaction when it finds more garbage than live data,
// so that its cost, linear in the table, is spread over about as many
// updates as it takes to make that much garbage. A bulk Build has next to
// no garbage and ends in place instead (finishBulk).

// needsCompaction reports an arena with more garbage than live data,
// counted in bytes over all four arrays (a large table's update leaves
// mostly jump-table and index words behind, a few nodes, hardly any
// text), or with an array about to outgrow its capacity: compacting then
// costs about what moving the array would, and leaves room for more.
func (w *writer) needsCompaction() bool {
	const nodeBytes, wordBytes, ptrBytes = 64, 4, 8
	dead := w.dead.nodes*nodeBytes + w.dead.words*wordBytes + w.dead.text + w.dead.lists*ptrBytes
	all := len(w.a.nodes)*nodeBytes + len(w.a.words)*wordBytes + len(w.a.text) + len(w.a.lists)*ptrBytes
	if all > 1<<20 && 2*dead > all {
		return true
	}
	full := func(n, c int) bool { return 8*n > 7*c && 4*dead > all }
	return full(len(w.a.nodes), cap(w.a.nodes)) || full(len(w.a.words), cap(w.a.words)) ||
		full(len(w.a.text), cap(w.a.text)) || full(len(w.a.lists), cap(w.a.lists))
}

// planState says when jumps were last planned.
type planState struct {
	nodes   int  // live nodes then
	dropped bool // an update has dropped a jump since
}

// wantsPlan reports whether a compaction should plan jumps again.
func (w *writer) wantsPlan() bool {
	return w.plan.dropped || len(w.a.nodes)-w.dead.nodes >= 2*w.plan.nodes
}

// compact returns a writer holding a copy of w's live tree in a fresh
// arena, with room for the updates that will make the next compaction
// due: as much again, and twice that for words, which is what updates
// leave most of behind.
func (w *writer) compact(plan bool) writer {
	old := &w.a
	live := arenaLen{
		nodes: len(old.nodes) - w.dead.nodes,
		words: 2 * (len(old.words) - w.dead.words),
		text:  len(old.text) - w.dead.text,
		lists: len(old.lists) - w.dead.lists,
	}
	room := func(n int) int { return 2*n + 16 }
	c := writer{a: arena{
		nodes: make([]node, 1, room(live.nodes)),
		words: make([]uint32, 1, room(live.words)),
	}}
	// Lists and label text move only when they hold much garbage;
	// otherwise the new arena shares them and nodes keep their offsets.
	moveLists := 4*w.dead.lists > len(old.lists)
	moveText := 4*w.dead.text > len(old.text)
	if moveLists {
		c.a.lists = make([]*entry, 1, room(live.lists))
	} else {
		c.a.lists, c.dead.lists = old.lists, w.dead.lists
	}
	if moveText {
		c.a.text = make([]byte, 1, room(live.text))
	} else {
		c.a.text, c.dead.text = old.text, w.dead.text
	}
	// Where each live node and list went, for the tables that name them.
	var nodeMap, listMap []uint32
	if !plan {
		nodeMap = make([]uint32, len(old.nodes))
	}
	if moveLists {
		listMap = make([]uint32, len(old.lists))
	}
	copyList := func(off uint32) uint32 {
		if off == 0 || !moveLists {
			return off
		}
		e := off
		for old.lists[e] != nil {
			e++
		}
		n := c.newList(old.lists[off:e]...)
		if listMap != nil {
			listMap[off] = n
		}
		return n
	}
	type auxOf struct{ n, aux uint32 }
	var auxes []auxOf
	// copyNode copies node o's own fields; its children follow when it
	// is taken off the stack.
	copyNode := func(o uint32) uint32 {
		n := old.nodes[o]
		if n.segLen > 16 && moveText {
			t := len(c.a.text)
			c.a.text = append(c.a.text, old.text[n.text:n.text+uint32(n.segLen)-16]...)
			n.text = uint32(t)
		}
		n.exact = copyList(n.exact)
		n.tail = copyList(n.tail)
		i := c.newNode(n)
		if n.aux != 0 {
			auxes = append(auxes, auxOf{i, n.aux})
			c.nd(i).aux = 0
		}
		if nodeMap != nil {
			nodeMap[o] = i
		}
		return i
	}
	c.root = copyNode(w.root)
	stack := []uint32{c.root}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if o := c.nd(i).wild; o != 0 {
			wi := copyNode(o)
			c.nd(i).wild = wi
			stack = append(stack, wi)
		}
		n := c.nd(i)
		nk := int(n.nkids)
		if nk == 0 {
			n.kids, n.kcap = 0, 0
			continue
		}
		okids := n.kids
		kids := c.allocWords(nk)
		for k := 0; k < nk; k++ {
			ci := copyNode(old.words[okids+uint32(k)])
			c.a.words[kids+uint32(k)] = ci
			stack = append(stack, ci)
		}
		n = c.nd(i)
		n.kids, n.kcap = kids, uint16(nk)
	}
	for _, x := range auxes {
		if c.nd(x.n).nkids > maxPacked {
			c.reindex(x.n)
		}
		meta := old.words[x.aux+auxMeta]
		if s := int(meta & 0xff); s != 0 && !plan {
			p := c.copyPhash(old.words, phash{ref: old.words[x.aux+auxJump], bits: meta >> 8}, func(v uint32) uint32 {
				return nodeMap[v&jumpIdxMask] | v&^jumpIdxMask
			})
			c.setJump(x.n, s, p)
		}
	}
	c.plan = w.plan
	if plan {
		c.planJumps(c.root)
		c.plan = planState{nodes: len(c.a.nodes)}
	}
	switch {
	case listMap == nil:
		c.exact = c.copyPhash(old.words, w.exact, func(v uint32) uint32 { return v })
	default:
		c.exact = c.copyPhash(old.words, w.exact, func(v uint32) uint32 { return listMap[v] })
	}
	return c
}

// copyPhash copies table p of the arena words into c's arena as it is,
// passing every value through remap. A value remap sends to 0 (which
// should not happen: tables only name live nodes and lists) makes it
// rebuild the table without that key.
func (c *writer) copyPhash(words []uint32, p phash, remap func(uint32) uint32) phash {
	if p.ref == 0 {
		return p
	}
	tb, mb := p.shape()
	dirLen := 1 << mb
	if tb != 0 {
		dirLen = 1 << tb
	}
	stale := false
	count := uint32(0)
	copyChunk := func(o uint32) uint32 {
		if o == 0 {
			return 0
		}
		n := c.allocWords(chunkWords)
		ch := c.a.words[n : n+chunkWords]
		copy(ch, words[o:o+chunkWords])
		for s := 0; s < chunkWords; s += slotWords {
			if v := ch[s+2]; v != 0 {
				if ch[s+2] = remap(v); ch[s+2]&jumpIdxMask == 0 {
					stale = true
				}
				count++
			}
		}
		return n
	}
	ref := c.allocWords(1 + dirLen)
	for d := 0; d < dirLen; d++ {
		o := words[p.ref+1+uint32(d)]
		if tb == 0 {
			ch := copyChunk(o)
			c.a.words[ref+1+uint32(d)] = ch
			continue
		}
		if o == 0 {
			continue
		}
		m := c.allocWords(1 << mb)
		for j := 0; j < 1<<mb; j++ {
			ch := copyChunk(words[o+uint32(j)])
			c.a.words[m+uint32(j)] = ch
		}
		c.a.words[ref+1+uint32(d)] = m
	}
	c.a.words[ref] = count
	np := phash{ref: ref, bits: p.bits}
	if stale {
		all := hall(c.a.words, np, nil)
		live := all[:0]
		for _, s := range all {
			if s.val&jumpIdxMask != 0 {
				live = append(live, s)
			}
		}
		np = c.hbuild(live, 1)
	}
	return np
}

// finishBulk ends a bulk build in place: it maps the children of wide
// nodes, plans the jumps, builds the exact index and trims the arrays. Nodes stay where the inserts put them
// (a compaction would group siblings), which costs lookups nothing
// measurable and saves copying the table.
func (w *writer) finishBulk() {
	var exact []hslot
	stack := []uint32{w.root}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := w.nd(i)
		if n.exact != 0 && w.a.lists[n.exact].isExact() {
			exact = append(exact, hslot{exactKey(w.a.lists[n.exact].raw()), n.exact})
		}
		if n.wild != 0 {
			stack = append(stack, n.wild)
		}
		for k := 0; k < int(n.nkids); k++ {
			stack = append(stack, w.a.words[n.kids+uint32(k)])
		}
		if n.nkids > maxPacked {
			w.reindex(i)
		}
	}
	w.planJumps(w.root)
	w.exact = w.hbuild(exact, 1)
	w.plan = planState{nodes: len(w.a.nodes)}
	w.bulk = false
	w.a.nodes = trim(w.a.nodes)
	w.a.words = trim(w.a.words)
	w.a.text = trim(w.a.text)
	w.a.lists = trim(w.a.lists)
}

func trim[T any](s []T) []T {
	if cap(s) <= len(s)+len(s)/4+64 {
		return s
	}
	c := make([]T, len(s), len(s)+len(s)/8+64)
	copy(c, s)
	return c
}
