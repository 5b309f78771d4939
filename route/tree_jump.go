package route

// Jump tables: the walk's shortcut through runs of branching nodes.
//
// A table of many routes with numbered segments (tenant 000123, service
// 04711) grows a chain of small nodes for every digit: at 100k routes a
// path crosses four or five of them that a table of 10 routes does not
// have, one child lookup each. A node J with a jump of stride s (2..8)
// instead maps the next s bytes of the path, by a persistent hash, to the
// node the walk would reach by reading them: the target D whose label
// covers byte s-1 counted from the end of J's label, together with where
// D's label starts. The walk then checks D's label as usual and goes on;
// a path whose s bytes are not in the table matches nothing below J.
//
// That is only true when the nodes skipped over (the interior: labels
// that end before byte s) hold nothing the walk would collect on the way,
// so no interior node has a prefix route or a parameter child. Exact
// routes may end in the interior: a path that ends there is shorter than s
// and walks down the usual way.
//
// Jumps are planned when a table is compacted (every Build ends with one),
// and then kept exact by every update along its path (fixJump). An update
// that puts a prefix route or a parameter in a jump's interior drops that
// jump; the next compaction plans again.

const (
	jumpMaxStride = 8
	// jumpMinLevels: a jump must skip at least this many interior nodes
	// on every path: a table lookup costs about as much as two child
	// steps, and a jump that saves less only slows the walk down (and
	// makes every update below it rewrite the table).
	jumpMinLevels = 2
	// jumpMaxTargets bounds a table (and a plan's work).
	jumpMaxTargets = 1 << 18
	// a jump value is a node index and, in the top 4 bits, the depth
	// where the target's label starts
	jumpIdxBits = 28
	jumpIdxMask = 1<<jumpIdxBits - 1
)

// jumpOf returns node i's stride (0 for none) and table.
func jumpOf(words []uint32, n *node) (int, phash) {
	if n.aux == 0 {
		return 0, phash{}
	}
	meta := words[n.aux+auxMeta]
	return int(meta & 0xff), phash{ref: words[n.aux+auxJump], bits: meta >> 8}
}

// setJump gives the owned node j stride s and table p (s 0: no jump).
func (w *writer) setJump(j uint32, s int, p phash) {
	if s == 0 {
		p = phash{}
	}
	w.setAux(j, auxMeta, uint32(s)|p.bits<<8)
	w.setAux(j, auxJump, p.ref)
}

// dropJump ends node j's jump; the next compaction plans again.
func (w *writer) dropJump(j uint32) {
	w.setJump(j, 0, phash{})
	w.plan.dropped = true
}

// jumpKey is the key of target t whose label starts at depth start, below
// a node reached by the bytes prefix (len(prefix) >= start).
func jumpKey(prefix uint64, start int, t *node, s int) uint64 {
	return lowBytes(prefix, start) | lowBytes(t.head[0], s-start)<<(8*start)
}

// fixJumps brings the jump tables on e's path up to date after e was
// inserted or removed: every node on the path that the update copied may
// have moved, split or gone.
func (w *writer) fixJumps(e *entry) {
	n := w.root
	for k := range e.numParts() {
		switch pt := e.part(k); pt.kind {
		case partLit:
			s := e.partText(pt)
			for {
				if st, _ := jumpOf(w.a.words, w.nd(n)); st != 0 {
					w.fixJump(n, s)
				}
				if len(s) == 0 {
					break
				}
				k, found := w.findKid(n, s[0])
				if !found {
					return
				}
				c := w.kid(n, k)
				if !w.hasPrefixLabel(s, c) {
					return
				}
				s = s[w.nd(c).segLen:]
				n = c
			}
		case partParam:
			if n = w.nd(n).wild; n == 0 {
				return
			}
		case partCatchAll:
		}
	}
	if st, _ := jumpOf(w.a.words, w.nd(n)); st != 0 {
		w.fixJump(n, "")
	}
}

// fixJump updates the jump of node j for an update whose literal goes on
// with lit below j. It walks lit through j's interior: an interior node
// with a prefix route or a parameter child ends the jump; the children of
// every node the update copied get their entries set (they may be new or
// moved); and if lit is long enough to have had a target that is now
// gone, its key is deleted.
func (w *writer) fixJump(j uint32, lit string) {
	s, p := jumpOf(w.a.words, w.nd(j))
	prefix := packWord(lit)
	x, depth := j, 0
	found := false
	for {
		xn := w.nd(x)
		if x != j && (xn.tail != 0 || xn.wild != 0) {
			w.dropJump(j)
			return
		}
		if w.owned(x) {
			for k := 0; k < int(w.nd(x).nkids); k++ {
				c := w.kid(x, k)
				cn := w.nd(c)
				if depth+int(cn.segLen) < s {
					continue // interior
				}
				if c > jumpIdxMask {
					w.dropJump(j)
					return
				}
				p = w.hput(p, jumpKey(prefix, depth, cn, s), c|uint32(depth)<<jumpIdxBits)
			}
		}
		if depth >= len(lit) {
			break
		}
		k, ok := w.findKid(x, lit[depth])
		if !ok {
			break
		}
		c := w.kid(x, k)
		l := int(w.nd(c).segLen)
		if depth+l >= s {
			found = len(lit) >= s && w.commonPrefix(c, lit[depth:s]) == s-depth
			break
		}
		if !w.hasPrefixLabel(lit[depth:], c) {
			break
		}
		depth += l
		x = c
	}
	if len(lit) >= s && !found {
		p = w.hput(p, lowBytes(prefix, s), 0)
	}
	if hcount(w.a.words, p) == 0 {
		w.setJump(j, 0, phash{}) // nothing left below j
		return
	}
	w.setJump(j, s, p)
}

// frontier is a node met while planning a jump: where its label starts
// below the jump's node, how many interior nodes lead to it, and the
// bytes that lead to it.
type frontier struct {
	n      uint32
	start  uint8
	levels uint8
	key    uint64
}

// planner holds a plan's scratch space, reused from node to node.
type planner struct {
	fr, next, best []frontier
	slots          []hslot
}

// planJump picks the stride for node j of a tree this writer owns
// entirely: the longest that keeps the interior free of prefix routes and
// parameters, stays within jumpMaxTargets, and skips at least
// jumpMinLevels interior nodes on every path. It returns 0 when none
// does, else the stride with its targets in pl.best.
func (w *writer) planJump(j uint32, pl *planner) int {
	jn := w.nd(j)
	if jn.nkids == 0 {
		return 0
	}
	// Every child must be an interior node with one more below it within
	// the stride, which most nodes fail at once.
	for k := 0; k < int(jn.nkids); k++ {
		if c := w.nd(w.kid(j, k)); c.segLen > jumpMaxStride-jumpMinLevels || c.tail != 0 || c.wild != 0 {
			return 0
		}
	}
	pl.fr = pl.fr[:0]
	for k := 0; k < int(jn.nkids); k++ {
		pl.fr = append(pl.fr, frontier{n: w.kid(j, k)})
	}
	best := 0
	for s := 1; s <= jumpMaxStride; s++ {
		next := pl.next[:0]
		shallow := false
		for _, f := range pl.fr {
			fn := w.nd(f.n)
			end := int(f.start) + int(fn.segLen)
			if end >= s {
				next = append(next, f)
				shallow = shallow || f.levels < jumpMinLevels
				continue
			}
			if fn.tail != 0 || fn.wild != 0 {
				pl.next = next
				return best
			}
			key := f.key | lowBytes(fn.head[0], int(fn.segLen))<<(8*f.start)
			for k := 0; k < int(fn.nkids); k++ {
				next = append(next, frontier{n: w.kid(f.n, k), start: uint8(end), levels: f.levels + 1, key: key})
				shallow = shallow || f.levels+1 < jumpMinLevels
			}
		}
		pl.next = next
		pl.fr, pl.next = pl.next, pl.fr
		if len(pl.fr) == 0 || len(pl.fr) > jumpMaxTargets {
			break
		}
		if !shallow {
			best = s
			pl.best = append(pl.best[:0], pl.fr...)
		}
	}
	return best
}

// planJumps gives jumps to a freshly compacted tree, from the root down.
// The interior of a jump gets none (a walk that crosses it uses the
// jump), its targets and everything below are planned in turn.
func (w *writer) planJumps(root uint32) {
	if len(w.a.nodes) > jumpIdxMask {
		return
	}
	var pl planner
	stack := []uint32{root}
	for len(stack) > 0 {
		j := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if wild := w.nd(j).wild; wild != 0 {
			stack = append(stack, wild)
		}
		s := w.planJump(j, &pl)
		if s == 0 {
			for k := 0; k < int(w.nd(j).nkids); k++ {
				stack = append(stack, w.kid(j, k))
			}
			continue
		}
		pl.slots = pl.slots[:0]
		for _, f := range pl.best {
			key := jumpKey(f.key, int(f.start), w.nd(f.n), s)
			pl.slots = append(pl.slots, hslot{key, f.n | uint32(f.start)<<jumpIdxBits})
			stack = append(stack, f.n)
		}
		// The aux record first, so that the table's directory follows it:
		// the walk reads both, one cache line when they share one.
		w.setAux(j, auxMeta, uint32(s))
		w.setJump(j, s, w.hbuild(pl.slots, 1))
	}
}
