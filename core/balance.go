package core

import (
	"math"
	"net/netip"
	"sync/atomic"
	"time"
)

// BalanceKind is an upstream's `type`: how its balancer picks a node.
type BalanceKind uint8

const (
	// BalanceRoundRobin is smooth weighted round-robin (nginx's order),
	// walked from a schedule built with the snapshot.
	BalanceRoundRobin BalanceKind = iota
	// BalanceCHash maps a request key onto a ring of virtual nodes, so a
	// key keeps its node while the node set changes around it.
	BalanceCHash
	// BalanceEWMA prefers the node with the lower decaying average
	// response time of two weighted choices.
	BalanceEWMA
	// BalanceLeastConn picks the node with the fewest active exchanges per
	// unit of weight.
	BalanceLeastConn
)

// Balancer picks upstream nodes. It is built once per snapshot and is
// immutable except for per-loop state: a loop only touches its own, so
// picking takes no lock. Nodes are indexes into the upstream's Addrs.
//
// Priority groups: nodes of a higher priority are picked first; a lower
// group is used only when every node of the higher groups is excluded
// (already tried, or unhealthy).
//
// Health: with health checks (SetHealth), nodes marked down are skipped.
// When that leaves nothing to pick, the nodes are tried anyway (APISIX's
// behaviour), unless the balancer was made to fail fast.
//
// Contract for EWMA and least_conn: every Pick that returns a node must be
// followed by exactly one Done for that node on the same loop.
type Balancer struct {
	kind   BalanceKind
	weight []int32 // per node
	pos    []int32 // per node: its index in its group's nodes
	groups []balGroup
	loops  []*balLoop
	// Hash says how a chash key is made from a request (nil unless chash).
	Hash *HashKey
	// health marks nodes down (nil: no checks; set when the snapshot is
	// published, while loops may be picking from an upstream an incremental
	// build reused); failDown makes Pick give up rather than try down nodes
	// when no other node is left.
	health   atomic.Pointer[UpstreamHealth]
	failDown bool
}

// balGroup is the nodes of one priority with positive weight.
type balGroup struct {
	nodes []int32
	mask  uint64   // bits of nodes below 64
	wide  bool     // has a node at 64 or above
	hi    []uint64 // bits of nodes 64 and above, from node 64 (nil unless wide)
	sched []int32
	ring  ring
}

// balLoop is one loop's balancer state, padded so that two loops never
// write the same cache line.
type balLoop struct {
	cur    []uint32 // schedule cursor per group
	active []int32  // per node: exchanges picked and not yet Done
	ewma   []ewmaStat
	rng    uint64
	now    int64    // monoNow at the last Done: the clock ewma picks decay by
	hi     []uint64 // scratch: down nodes 64 and above, while picking
	_      [64]byte
}

type ewmaStat struct {
	ns float64 // decaying average response time
	at int64   // when it was last updated, monotonic ns
}

// EWMA settings: a sample's weight halves in about 7 s (τ = 10 s, as
// APISIX), and a failure counts as a response at least this slow.
const (
	ewmaTau        = float64(10 * time.Second)
	ewmaFailSample = time.Second
)

// NewBalancer builds a balancer over nodes with the given weights and
// priorities (both indexed like the upstream's addresses) for loops event
// loops. addrs place the chash ring's points, so a ring depends only on the
// node set, never on order, maps or randomness. Nodes of weight 0 are
// never picked.
func NewBalancer(kind BalanceKind, addrs []netip.AddrPort, weights, priorities []int, loops int) *Balancer {
	n := len(weights)
	b := &Balancer{kind: kind, weight: make([]int32, n), pos: make([]int32, n)}
	for i, w := range weights {
		b.weight[i] = int32(min(w, math.MaxInt32))
	}
	// Groups by priority, highest first; nodes keep their order within one.
	var prios []int
	for i, p := range priorities {
		if weights[i] <= 0 {
			continue
		}
		k := 0
		for k < len(prios) && prios[k] > p {
			k++
		}
		if k == len(prios) || prios[k] != p {
			prios = append(prios[:k], append([]int{p}, prios[k:]...)...)
		}
	}
	hiWords := max(0, (n-64+63)/64)
	b.groups = make([]balGroup, len(prios))
	for gi, p := range prios {
		g := &b.groups[gi]
		for i := range n {
			if weights[i] > 0 && priorities[i] == p {
				b.pos[i] = int32(len(g.nodes))
				g.nodes = append(g.nodes, int32(i))
				if i < 64 {
					g.mask |= 1 << i
				} else {
					if !g.wide {
						g.wide, g.hi = true, make([]uint64, hiWords)
					}
					g.hi[(i-64)>>6] |= 1 << ((i - 64) & 63)
				}
			}
		}
		g.sched = smoothSchedule(g.nodes, b.weight)
		if kind == BalanceCHash {
			g.ring = buildRing(g.nodes, b.weight, addrs)
		}
	}
	b.loops = make([]*balLoop, loops)
	for l := range b.loops {
		st := &balLoop{cur: make([]uint32, len(b.groups)), rng: uint64(l)*0x9e3779b97f4a7c15 + 1}
		// Loops start at different points of the schedule, so that a
		// quiet gateway with many loops does not send every loop's first
		// request to the same node.
		for gi := range b.groups {
			st.cur[gi] = uint32(len(b.groups[gi].sched) * l / max(loops, 1))
		}
		if kind == BalanceEWMA || kind == BalanceLeastConn {
			st.active = make([]int32, n)
		}
		if kind == BalanceEWMA {
			st.ewma = make([]ewmaStat, n)
		}
		if hiWords > 0 {
			st.hi = make([]uint64, hiWords)
		}
		b.loops[l] = st
	}
	return b
}

// Kind is the balancer's type.
func (b *Balancer) Kind() BalanceKind { return b.kind }

// Tracks reports whether the balancer keeps outcome state, so that callers
// on a hot path may skip measuring latency for Done when it does not.
func (b *Balancer) Tracks() bool { return b.kind == BalanceEWMA || b.kind == BalanceLeastConn }

// Pick returns the node for the next exchange on loop, or -1 when every
// node is excluded. key is the chash key (ignored by other kinds).
// exclude has a bit set for each node not to pick (tried); nodes at index
// 64 and above cannot be excluded by it. Nodes that health checks marked
// down are skipped while any other node is left.
func (b *Balancer) Pick(loop int, key []byte, exclude uint64) int {
	st := b.loops[loop]
	var h uint32
	if b.kind == BalanceCHash {
		h = hashKey(key)
	}
	e := exclusion{lo: exclude}
	if hl := b.health.Load(); hl != nil && hl.nDown.Load() != 0 {
		return b.pickHealthy(st, h, e, hl)
	}
	return b.pick(st, h, &e)
}

// pickHealthy picks with the down nodes excluded too, and when that leaves
// nothing, from every node not tried (or none, failing fast).
func (b *Balancer) pickHealthy(st *balLoop, h uint32, tried exclusion, hl *UpstreamHealth) int {
	e := exclusion{lo: tried.lo | hl.loadDown(st.hi)}
	if st.hi != nil {
		e.hi = st.hi
	}
	if n := b.pick(st, h, &e); n >= 0 || b.failDown {
		return n
	}
	return b.pick(st, h, &tried)
}

func (b *Balancer) pick(st *balLoop, h uint32, e *exclusion) int {
	for gi := range b.groups {
		g := &b.groups[gi]
		if e.covers(g) {
			continue
		}
		var n int
		switch b.kind {
		case BalanceRoundRobin:
			n = g.next(st, gi, e)
		case BalanceCHash:
			n = g.ring.pick(h, e)
		case BalanceEWMA:
			n = b.pickEWMA(g, st, gi, e)
		case BalanceLeastConn:
			n = b.pickLeastConn(g, st, gi, e)
		}
		if n >= 0 {
			if st.active != nil {
				st.active[n]++
			}
			return n
		}
	}
	return -1
}

// Done reports the end of an exchange with node picked on loop: its
// latency (negative when there is no measurement, such as a client that
// went away) and whether the node failed it.
func (b *Balancer) Done(loop, node int, latency time.Duration, failed bool) {
	if b.kind != BalanceEWMA && b.kind != BalanceLeastConn {
		return
	}
	st := b.loops[loop]
	if st.active[node] > 0 {
		st.active[node]--
	}
	if b.kind != BalanceEWMA || (latency < 0 && !failed) {
		return
	}
	if failed {
		latency = max(latency, ewmaFailSample)
	}
	now := monoNow()
	st.now = now
	e := &st.ewma[node]
	if e.at == 0 {
		e.ns = float64(latency)
	} else {
		w := math.Exp(-float64(now-e.at) / ewmaTau)
		e.ns = e.ns*w + float64(latency)*(1-w)
	}
	e.at = now
}

// exclusion is the set of nodes a pick must not return: tried ones (below
// 64 only) and, with health checks, down ones.
type exclusion struct {
	lo uint64   // nodes 0..63
	hi []uint64 // nodes 64 and above, from node 64; nil: none of them
}

func (e *exclusion) has(n int32) bool {
	if n < 64 {
		return e.lo&(1<<n) != 0
	}
	n -= 64
	return e.hi != nil && e.hi[n>>6]&(1<<(n&63)) != 0
}

// covers reports whether every node of g is excluded.
func (e *exclusion) covers(g *balGroup) bool {
	if g.mask&^e.lo != 0 {
		return false
	}
	if !g.wide {
		return true
	}
	if e.hi == nil {
		return false
	}
	for i, w := range g.hi {
		if w&^e.hi[i] != 0 {
			return false
		}
	}
	return true
}

// touches reports whether some node of g is excluded.
func (e *exclusion) touches(g *balGroup) bool {
	if e.lo&g.mask != 0 {
		return true
	}
	if !g.wide || e.hi == nil {
		return false
	}
	for i, w := range g.hi {
		if w&e.hi[i] != 0 {
			return true
		}
	}
	return false
}

// next walks the group's schedule from the loop's cursor: one step when
// nothing of the group is excluded, a scan on retries.
func (g *balGroup) next(st *balLoop, gi int, e *exclusion) int {
	s := g.sched
	c := st.cur[gi]
	if !e.touches(g) {
		n := s[c]
		if c++; int(c) == len(s) {
			c = 0
		}
		st.cur[gi] = c
		return int(n)
	}
	for range len(s) {
		n := s[c]
		if c++; int(c) == len(s) {
			c = 0
		}
		if !e.has(n) {
			st.cur[gi] = c
			return int(n)
		}
	}
	return -1
}

// pickEWMA takes the next node of the schedule and a weighted random other
// one, and keeps the random one only when its score (decayed average
// response time times exchanges in flight + 1) is lower by more than a
// tenth: nodes that answer alike share the load by weight.
func (b *Balancer) pickEWMA(g *balGroup, st *balLoop, gi int, e *exclusion) int {
	a := g.next(st, gi, e)
	if a < 0 {
		return -1
	}
	st.rng ^= st.rng << 13
	st.rng ^= st.rng >> 7
	st.rng ^= st.rng << 17
	s := g.sched
	i := int(st.rng % uint64(len(s)))
	c := s[i]
	for k := 0; (c == int32(a) || e.has(c)) && k < 8; k++ {
		if i++; i == len(s) {
			i = 0
		}
		c = s[i]
	}
	if c == int32(a) || e.has(c) {
		return a
	}
	// The clock of the last Done: each pick is followed by one, so it is at
	// most one exchange old, and a pick need not read the time.
	now := st.now
	if st.score(int(c), now)*1.1 < st.score(a, now) {
		return int(c)
	}
	return a
}

func (st *balLoop) score(n int, now int64) float64 {
	e := st.ewma[n]
	v := e.ns
	if e.at != 0 && now > e.at {
		// An average nobody refreshed fades, so a node that was slow once
		// is tried again eventually.
		v *= math.Exp(-float64(now-e.at) / ewmaTau)
	}
	return v * float64(st.active[n]+1)
}

// pickLeastConn scans the group for the fewest active exchanges per unit of
// weight, starting at the schedule's next node so that ties (an idle
// upstream) go round-robin by weight.
func (b *Balancer) pickLeastConn(g *balGroup, st *balLoop, gi int, e *exclusion) int {
	start := g.next(st, gi, e)
	if start < 0 {
		return -1
	}
	best := int32(start)
	bw, ba := int64(b.weight[best]), int64(st.active[best])
	if ba == 0 {
		return start // nothing is less loaded than idle, and ties go to start
	}
	nodes := g.nodes
	p := int(b.pos[best])
	active, weight := st.active, b.weight
	check := e.touches(g)
	// Two runs instead of a wrapping index: after start, then before it.
	for _, run := range [2][]int32{nodes[p+1:], nodes[:p]} {
		for _, n := range run {
			// active[n]/weight[n] < active[best]/weight[best], without division.
			a, w := int64(active[n]), int64(weight[n])
			if a*bw < ba*w && !(check && e.has(n)) {
				best, bw, ba = n, w, a
				if a == 0 {
					return int(best)
				}
			}
		}
	}
	return int(best)
}

var monoBase = time.Now()

// monoNow is monotonic nanoseconds since the process started (never 0 in
// practice, which ewmaStat uses for "no sample yet").
func monoNow() int64 { return int64(time.Since(monoBase)) + 1 }
