package core

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Health checks
//
// A checker exists for every upstream with `checks`, keyed by where the
// upstream is defined ("upstreams/<id>", or "routes/<id>", "services/<id>"
// and "stream_routes/<id>" for inline ones). It outlives snapshots: a snapshot
// that keeps the upstream keeps its checker and every node's health, so a
// change elsewhere in the config resets nothing; a snapshot without it
// stops the checker. Active probes run on one event loop per checker, on
// the loop's timers and non-blocking sockets: no goroutine at all.
//
// Each snapshot's UpstreamSet gets a view (UpstreamHealth) indexed like its
// nodes; the balancer reads the view's down bits with an atomic load per
// pick. Counting follows lua-resty-healthcheck, which APISIX uses: a
// success clears the failure counts and a failure the success count; a
// count reaching its threshold flips the node to healthy or unhealthy, and
// in between a healthy node with failures is "mostly_healthy" (still
// picked), an unhealthy one with successes "mostly_unhealthy" (not).

// Node health states, as APISIX's control API names them.
const (
	stateHealthy uint32 = iota
	stateMostlyHealthy
	stateMostlyUnhealthy
	stateUnhealthy
)

var stateNames = [...]string{"healthy", "mostly_healthy", "mostly_unhealthy", "unhealthy"}

func isDown(s uint32) bool { return s >= stateMostlyUnhealthy }

// What a probe or a proxied exchange says about a node.
const (
	reportSuccess uint8 = iota
	reportHTTPFailure
	reportTCPFailure
	reportTimeout
)

// Health is the process's set of checkers. The zero value is not usable:
// a Store makes one (Store.Health).
type Health struct {
	mu       sync.Mutex
	group    *Group
	checkers map[string]*checker
	next     int // loop of the next checker, round-robin
}

func newHealth() *Health { return &Health{checkers: map[string]*checker{}} }

// checker is one upstream's health: its nodes, their counters and probes.
type checker struct {
	h   *Health
	key string

	mu     sync.Mutex
	cfg    *healthChecks
	nodes  []*nodeHealth // in the latest snapshot's order, without duplicates
	view   *UpstreamHealth
	loop   *Loop         // nil until the group starts
	gone   []*nodeHealth // left the upstream; their probes are to stop
	closed bool

	// Owned by loop.
	lcfg     *healthChecks // cfg as of the last sync
	inflight int
	waiting  []*probe
}

// nodeHealth is one node of one checker.
type nodeHealth struct {
	addr  netip.AddrPort
	state atomic.Uint32
	// Guarded by checker.mu.
	success, httpFail, tcpFail, timeouts uint32
	gone                                 bool
	// Owned by the checker's loop.
	probe *probe
}

// UpstreamHealth is one snapshot's view of its upstream's node health,
// indexed like the UpstreamSet's Addrs. Its methods are safe from any
// goroutine; those of a nil view do nothing.
type UpstreamHealth struct {
	c       *checker
	nodes   []*nodeHealth
	down    []atomic.Uint64 // a bit per node index
	nDown   atomic.Int32
	passive *passiveChecks
}

// loadDown copies the down bits of nodes 64 and above into hi (when it is
// not nil) and returns those of nodes 0..63.
func (h *UpstreamHealth) loadDown(hi []uint64) uint64 {
	for i := range hi {
		hi[i] = h.down[i+1].Load()
	}
	return h.down[0].Load()
}

// Down reports whether the node at index i is marked down.
func (h *UpstreamHealth) Down(i int) bool {
	if h == nil || i < 0 || i >= len(h.nodes) {
		return false
	}
	return h.down[i>>6].Load()&(1<<(i&63)) != 0
}

// ReportStatus counts a response status from node i (passive checks).
func (h *UpstreamHealth) ReportStatus(i, status int) {
	if h == nil || h.passive == nil || !h.passive.statuses || i < 0 || i >= len(h.nodes) {
		return
	}
	p := h.passive
	switch {
	case p.okStatus.has(status):
		h.c.report(h.nodes[i], reportSuccess, &p.limits)
	case p.badStatus.has(status):
		h.c.report(h.nodes[i], reportHTTPFailure, &p.limits)
	}
}

// ReportFailure counts a failed exchange with node i (passive checks): a
// timeout, or a refused, reset or broken connection.
func (h *UpstreamHealth) ReportFailure(i int, timeout bool) {
	if h == nil || h.passive == nil || i < 0 || i >= len(h.nodes) {
		return
	}
	kind := reportTCPFailure
	if timeout {
		kind = reportTimeout
	}
	h.c.report(h.nodes[i], kind, &h.passive.limits)
}

// ReportSuccess counts a success with node i that has no status (a stream
// connected), for passive checks.
func (h *UpstreamHealth) ReportSuccess(i int) {
	if h == nil || h.passive == nil || i < 0 || i >= len(h.nodes) {
		return
	}
	h.c.report(h.nodes[i], reportSuccess, &h.passive.limits)
}

// report counts one outcome for n against lim. The common cases (a success
// for a healthy node, a failure for an unhealthy one) change nothing and
// take no lock.
func (c *checker) report(n *nodeHealth, kind uint8, lim *thresholds) {
	st := n.state.Load()
	if kind == reportSuccess && st == stateHealthy || kind != reportSuccess && st == stateUnhealthy {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.gone || c.closed {
		return
	}
	st = n.state.Load()
	var ctr *uint32
	var limit uint32
	switch kind {
	case reportSuccess:
		if st == stateHealthy {
			return
		}
		ctr, limit = &n.success, lim.successes
		n.httpFail, n.tcpFail, n.timeouts = 0, 0, 0
	case reportHTTPFailure:
		ctr, limit = &n.httpFail, lim.httpFailures
	case reportTCPFailure:
		ctr, limit = &n.tcpFail, lim.tcpFailures
	case reportTimeout:
		ctr, limit = &n.timeouts, lim.timeouts
	}
	if kind != reportSuccess {
		if st == stateUnhealthy {
			return
		}
		n.success = 0
	}
	if limit == 0 {
		return
	}
	*ctr++
	next := st
	switch {
	case *ctr >= limit && kind == reportSuccess:
		next = stateHealthy
	case *ctr >= limit:
		next = stateUnhealthy
	case st == stateHealthy:
		next = stateMostlyHealthy
	case st == stateUnhealthy:
		next = stateMostlyUnhealthy
	}
	if next != st {
		c.setState(n, next)
	}
}

// setState changes n's state and, when it crosses between up and down, the
// current view's bits. Called with c.mu held.
func (c *checker) setState(n *nodeHealth, s uint32) {
	was := n.state.Swap(s)
	if isDown(was) == isDown(s) {
		return
	}
	if isDown(s) {
		Warnf("health: %s: node %s is unhealthy (%s); it gets no traffic while another node is healthy", c.key, n.addr, n.counts())
	} else {
		Infof("health: %s: node %s is healthy again (%s)", c.key, n.addr, n.counts())
	}
	if v := c.view; v != nil {
		v.mark(n, isDown(s))
	}
}

// mark sets or clears the down bit of every index of n.
func (v *UpstreamHealth) mark(n *nodeHealth, down bool) {
	for i, x := range v.nodes {
		if x != n {
			continue
		}
		w, bit := &v.down[i>>6], uint64(1)<<(i&63)
		if down {
			if w.Or(bit)&bit == 0 {
				v.nDown.Add(1)
			}
		} else if w.And(^bit)&bit != 0 {
			v.nDown.Add(-1)
		}
	}
}

func (n *nodeHealth) counts() string {
	var b strings.Builder
	for i, c := range [4]uint32{n.success, n.httpFail, n.tcpFail, n.timeouts} {
		if c == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString([4]string{"successes ", "http failures ", "tcp failures ", "timeouts "}[i])
		b.WriteString(strconv.Itoa(int(c)))
	}
	return b.String()
}

// attach gives every upstream of snap with checks a view from its checker,
// creating checkers for new ones and stopping those snap no longer has.
// Store.Publish calls it before snap becomes current.
func (h *Health) attach(snap *Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	live := map[string]bool{}
	add := func(kind, id string, us *UpstreamSet) {
		if us == nil || us.checks == nil {
			return
		}
		key := kind + "/" + id
		if live[key] {
			return
		}
		live[key] = true
		c := h.checkers[key]
		if c == nil {
			c = &checker{h: h, key: key}
			h.checkers[key] = c
			if h.group != nil {
				c.loop = h.pickLoop()
			}
		}
		c.update(us)
	}
	for id, us := range snap.Upstreams {
		add(KindUpstreams, id, us)
	}
	for id, us := range snap.RouteUpstreams {
		add(KindRoutes, id, us)
	}
	for id, us := range snap.ServiceUpstreams {
		add(KindServices, id, us)
	}
	for _, ts := range snap.stream {
		for _, t := range ts {
			if t.Upstream != nil && t.Upstream.ID == "" {
				add(KindStreamRoutes, t.ID, t.Upstream)
			}
		}
	}
	for key, c := range h.checkers {
		if !live[key] {
			delete(h.checkers, key)
			c.close()
		}
	}
}

func (h *Health) pickLoop() *Loop {
	l := h.group.Loops[h.next%len(h.group.Loops)]
	h.next++
	return l
}

// Start runs the active checks on g's loops, from now on and for every
// snapshot published later. Call it once, after g.Start.
func (h *Health) Start(g *Group) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.group = g
	keys := make([]string, 0, len(h.checkers))
	for k := range h.checkers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := h.checkers[k]
		c.mu.Lock()
		c.loop = h.pickLoop()
		c.mu.Unlock()
		c.resync()
	}
}

// update takes us's node set and checks config, keeping the health of the
// nodes it already had, and gives us's nodes its view. An upstream an
// incremental build reused (the same compiled set) keeps the view it has.
func (c *checker) update(us *UpstreamSet) {
	us.nodesMu.Lock()
	defer us.nodesMu.Unlock()
	c.mu.Lock()
	same := c.cfg == us.checks // the set it serves already
	c.cfg = us.checks
	us.checker.Store(c)
	ns := us.Nodes()
	if v := ns.health.Load(); v != nil && v.c == c {
		if c.view != v {
			c.adopt(v)
			same = false
		}
	} else {
		c.viewLocked(ns)
		same = false
	}
	c.mu.Unlock()
	if !same { // else its probes are as they should be: no work for the loop
		c.resync()
	}
}

// setNodes makes ns, new nodes of us (a name resolved to other addresses:
// UpstreamSet.rebuild, with us.nodesMu held), current with a view of their
// health; nodes the checker already had keep theirs, new ones start
// healthy, and probes follow the new set.
func (c *checker) setNodes(us *UpstreamSet, ns *UpstreamNodes) {
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.viewLocked(ns)
	}
	us.nodes.Store(ns)
	c.mu.Unlock()
	if !closed {
		c.resync()
	}
}

// viewLocked builds the checker's view of ns and attaches it to ns and its
// balancer. Called with c.mu held, before ns is in use.
func (c *checker) viewLocked(ns *UpstreamNodes) {
	old := map[netip.AddrPort]*nodeHealth{}
	for _, n := range c.nodes {
		old[n.addr] = n
	}
	v := &UpstreamHealth{c: c, nodes: make([]*nodeHealth, len(ns.Addrs)),
		down: make([]atomic.Uint64, (len(ns.Addrs)+63)/64), passive: c.cfg.passive}
	var nodes []*nodeHealth
	seen := map[netip.AddrPort]*nodeHealth{}
	for i, a := range ns.Addrs {
		n := seen[a]
		if n == nil {
			n = old[a]
			if n == nil {
				n = &nodeHealth{addr: a}
			}
			delete(old, a)
			seen[a] = n
			nodes = append(nodes, n)
		}
		v.nodes[i] = n
		if isDown(n.state.Load()) {
			v.down[i>>6].Or(1 << (i & 63))
			v.nDown.Add(1)
		}
	}
	for _, n := range old {
		n.gone = true
		c.gone = append(c.gone, n)
	}
	c.nodes = nodes
	c.view = v
	ns.health.Store(v)
	ns.Bal.health.Store(v)
}

// adopt makes v, an older view of this checker, current again: its nodes
// are the checker's, and its bits follow their states as they are now.
// Called with c.mu held.
func (c *checker) adopt(v *UpstreamHealth) {
	keep := map[*nodeHealth]bool{}
	var nodes []*nodeHealth
	for _, n := range v.nodes {
		if !keep[n] {
			keep[n] = true
			nodes = append(nodes, n)
		}
		v.mark(n, isDown(n.state.Load()))
	}
	for _, n := range c.nodes {
		if !keep[n] {
			n.gone = true
			c.gone = append(c.gone, n)
		}
	}
	for _, n := range nodes {
		n.gone = false
	}
	c.nodes = nodes
	c.view = v
}

// CheckerStatus is what GET /v1/healthcheck shows for one checker, in the
// shape of APISIX's control API.
type CheckerStatus struct {
	Name  string       `json:"name"`
	Type  string       `json:"type"`
	Nodes []NodeStatus `json:"nodes"`
}

// NodeStatus is one node of a CheckerStatus.
type NodeStatus struct {
	IP      string      `json:"ip"`
	Port    int         `json:"port"`
	Status  string      `json:"status"`
	Counter NodeCounter `json:"counter"`
}

// NodeCounter are a node's current counts (reset as lua-resty-healthcheck
// does: a success clears the failures, a failure the successes).
type NodeCounter struct {
	Success        uint32 `json:"success"`
	HTTPFailure    uint32 `json:"http_failure"`
	TCPFailure     uint32 `json:"tcp_failure"`
	TimeoutFailure uint32 `json:"timeout_failure"`
}

// Status lists every checker, by name. key, when not empty, selects one
// ("upstreams/web"); the list is then empty when it has none.
func (h *Health) Status(key string) []CheckerStatus {
	h.mu.Lock()
	var cs []*checker
	for k, c := range h.checkers {
		if key == "" || k == key {
			cs = append(cs, c)
		}
	}
	h.mu.Unlock()
	sort.Slice(cs, func(i, j int) bool { return cs[i].key < cs[j].key })
	out := make([]CheckerStatus, 0, len(cs))
	for _, c := range cs {
		c.mu.Lock()
		s := CheckerStatus{Name: "/apisix/" + c.key, Type: c.cfg.typ, Nodes: make([]NodeStatus, 0, len(c.nodes))}
		for _, n := range c.nodes {
			s.Nodes = append(s.Nodes, NodeStatus{
				IP: n.addr.Addr().String(), Port: int(n.addr.Port()), Status: stateNames[n.state.Load()],
				Counter: NodeCounter{Success: n.success, HTTPFailure: n.httpFail, TCPFailure: n.tcpFail, TimeoutFailure: n.timeouts},
			})
		}
		c.mu.Unlock()
		out = append(out, s)
	}
	return out
}

// Health is the store's health-check registry: Start it on the loops that
// are to run the active checks.
func (s *Store) Health() *Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.healthLocked()
}

func (s *Store) healthLocked() *Health {
	if s.health == nil {
		s.health = newHealth()
	}
	return s.health
}

// compileHealth compiles u's checks into us (the config's policy for when
// every node is down goes into its balancers: upstreamSpec.failDown).
func compileHealth(cfg *Config, d *decoder, p string, u *Upstream, us *UpstreamSet) error {
	if u.Checks == nil {
		return nil
	}
	hc, err := compileChecks(d, p+".checks", u.Checks)
	if err != nil {
		return err
	}
	us.checks = hc
	return nil
}
