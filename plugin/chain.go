package plugin

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-gateway/sluice/route"
)

// entry is one configured plugin instance.
type entry struct {
	k        *kind
	inst     any
	prio     int
	origin   Origin
	owner    string
	filter   *route.Expr
	disabled bool
}

// hook is one phase method of one entry, ready to call.
type hook struct {
	run    func(*Ctx) Result
	see    func(*Ctx)
	body   func(*Ctx, []byte, bool) []byte
	read   func(*Ctx, []byte)
	slot   uint16
	filter *route.Expr
	cost   *Cost
}

// Chain is a compiled, immutable list of hooks per phase, sorted by
// priority, with global rules first. Dispatch walks slices: no lookups, no
// type switches.
type Chain struct {
	hooks [numPhases][]hook
	// conRewrite are the rewrite hooks a consumer's own plugins add, run
	// right after authentication identified the consumer.
	conRewrite []hook
	entries    []entry // this chain's own (not the global rules')
	global     *Chain
	nslots     int
	b          *Build

	mu     sync.Mutex
	merged atomic.Pointer[map[*Consumer]*Chain]
}

// compile sorts es, checks priorities and binds the phase methods. global,
// when set, contributes its hooks first.
func (b *Build) compile(es []entry, global *Chain, owner string) (*Chain, error) {
	live := make([]entry, 0, len(es))
	for _, e := range es {
		if !e.disabled {
			live = append(live, e)
		}
	}
	sort.SliceStable(live, func(i, j int) bool { return live[i].prio > live[j].prio })
	for i := 1; i < len(live); i++ {
		if live[i].prio == live[i-1].prio {
			return nil, fmt.Errorf("%s: plugins %s and %s have the same priority %d (set _meta.priority on one)", owner, live[i-1].k.Name, live[i].k.Name, live[i].prio)
		}
	}
	ch := &Chain{entries: es, global: global, b: b}
	base := 0
	if global != nil {
		base = global.nslots
		for p := range numPhases {
			ch.hooks[p] = append(ch.hooks[p], global.hooks[p]...)
		}
		// APISIX runs the global rules' rewrite and access phases both
		// before the route's rewrite.
		ch.hooks[PhaseRewrite] = append(ch.hooks[PhaseRewrite], global.hooks[PhaseAccess]...)
		ch.hooks[PhaseAccess] = nil
	}
	ch.nslots = base + len(live)
	for i := range live {
		e := &live[i]
		h := hook{slot: uint16(base + i), filter: e.filter}
		add := func(p Phase, h hook) {
			h.cost = &e.k.cost[p]
			ch.hooks[p] = append(ch.hooks[p], h)
			if p == PhaseRewrite && e.origin >= OriginConsumerGroup {
				ch.conRewrite = append(ch.conRewrite, h)
			}
		}
		if x, ok := e.inst.(Rewriter); ok {
			h.run = x.Rewrite
			add(PhaseRewrite, h)
		}
		if x, ok := e.inst.(Accessor); ok {
			h.run = x.Access
			add(PhaseAccess, h)
		}
		if x, ok := e.inst.(BeforeProxy); ok {
			h.run = x.BeforeProxy
			add(PhaseBeforeProxy, h)
		}
		if x, ok := e.inst.(Prereader); ok {
			h.run = x.Preread
			add(PhasePreread, h)
		}
		h.run = nil
		if x, ok := e.inst.(HeaderFilter); ok {
			h.see = x.HeaderFilter
			add(PhaseHeaderFilter, h)
		}
		if x, ok := e.inst.(Logger); ok {
			h.see = x.Log
			add(PhaseLog, h)
		}
		h.see = nil
		if x, ok := e.inst.(BodyFilter); ok {
			h.body = x.BodyFilter
			add(PhaseBodyFilter, h)
		}
		h.body = nil
		if x, ok := e.inst.(RequestBodyReader); ok {
			h.read = x.RequestBody
			add(PhaseRequestBody, h)
		}
		if x, ok := e.inst.(ResponseBodyReader); ok {
			h.read = x.ResponseBody
			add(PhaseResponseBody, h)
		}
	}
	return ch, nil
}

// Empty reports whether the chain has no hooks at all.
func (ch *Chain) Empty() bool {
	if ch == nil {
		return true
	}
	for p := range numPhases {
		if len(ch.hooks[p]) > 0 {
			return false
		}
	}
	return true
}

// Has reports whether the chain has hooks for phase p.
func (ch *Chain) Has(p Phase) bool { return ch != nil && len(ch.hooks[p]) > 0 }

// Plugins lists the chain's plugins in the order they run (for Explain
// and tests).
func (ch *Chain) Plugins() []string {
	var out []string
	seen := map[string]bool{}
	es := append([]entry(nil), ch.entries...)
	if ch.global != nil {
		es = append(append([]entry(nil), ch.global.entries...), es...)
	}
	for _, e := range es {
		if !e.disabled && !seen[e.k.Name] {
			seen[e.k.Name] = true
			out = append(out, e.k.Name)
		}
	}
	return out
}

// forConsumer is the chain with consumer c's plugins merged in, made on
// first use for each (route, consumer) pair and kept.
func (ch *Chain) forConsumer(c *Consumer) *Chain {
	if m := ch.merged.Load(); m != nil {
		if x := (*m)[c]; x != nil {
			return x
		}
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	old := ch.merged.Load()
	if old != nil {
		if x := (*old)[c]; x != nil {
			return x
		}
	}
	x, err := ch.b.compile(merge(ch.entries, c.entries), ch.global, "consumers/"+c.Username)
	if err != nil {
		// A priority clash between the route's and the consumer's plugins:
		// the consumer's plugins are left out rather than failing requests.
		x = ch
	}
	m := make(map[*Consumer]*Chain, 1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[c] = x
	ch.merged.Store(&m)
	return x
}

// run calls the hooks in hs from c.next until one stops or pauses; then
// c.next is where to resume.
func (c *Ctx) run(hs []hook) Result {
	for c.next < len(hs) {
		h := &hs[c.next]
		c.next++
		if h.filter != nil && !c.filtered(h) {
			continue
		}
		c.cur = h.slot
		var r Result
		if c.Sampled {
			t0 := time.Now()
			r = h.run(c)
			h.cost.add(time.Since(t0))
		} else {
			r = h.run(c)
		}
		if r.Status != 0 {
			c.Status = r.Status
			return r
		}
		if r.Delay > 0 {
			return r
		}
	}
	c.next = 0
	c.stage++
	return Continue
}

// filtered evaluates an entry's _meta.filter once per request.
func (c *Ctx) filtered(h *hook) bool {
	if h.slot >= 64 {
		return c.Eval(h.filter)
	}
	bit := uint64(1) << h.slot
	if c.fDone&bit == 0 {
		c.fDone |= bit
		if c.Eval(h.filter) {
			c.fPass |= bit
		}
	}
	return c.fPass&bit != 0
}

// Request runs the request phases: rewrite, then (once authentication
// identified a consumer with plugins of its own) the consumer's merged
// chain, access and before_proxy. A stop returns the Result to answer
// with; a pause (Result.Delay) returns it, and the server calls Request
// again after the delay to go on from the next hook.
func (c *Ctx) Request() Result {
	ch := c.chain
	if ch == nil {
		return Continue
	}
	for {
		var hs []hook
		switch c.stage {
		case stageRewrite:
			hs = ch.hooks[PhaseRewrite]
		case stageConsumer:
			if c.next == 0 {
				if c.Consumer == nil || len(c.Consumer.entries) == 0 {
					c.stage++
					continue
				}
				ch = ch.forConsumer(c.Consumer)
				c.chain = ch
				if len(c.slots) < ch.nslots {
					c.slots = append(c.slots, make([]slot, ch.nslots-len(c.slots))...)
				}
			}
			hs = ch.conRewrite
		case stageAccess:
			hs = ch.hooks[PhaseAccess]
		case stageBeforeProxy:
			hs = ch.hooks[PhaseBeforeProxy]
		default:
			return Continue
		}
		if r := c.run(hs); r.Status != 0 || r.Delay > 0 {
			return r
		}
	}
}

// Stages of Request.
const (
	stageRewrite = iota
	stageConsumer
	stageAccess
	stageBeforeProxy
	stageDone
)

// Preread runs a stream's preread hooks.
func (c *Ctx) Preread() Result {
	if c.chain == nil {
		return Continue
	}
	c.next = 0
	return c.run(c.chain.hooks[PhasePreread])
}

func (c *Ctx) see(hs []hook) {
	for i := range hs {
		h := &hs[i]
		if h.filter != nil && !c.filtered(h) {
			continue
		}
		c.cur = h.slot
		if c.Sampled {
			t0 := time.Now()
			h.see(c)
			h.cost.add(time.Since(t0))
		} else {
			h.see(c)
		}
	}
}

// HeaderFilter runs the header_filter hooks on the response head.
func (c *Ctx) HeaderFilter() {
	if c.chain != nil {
		c.see(c.chain.hooks[PhaseHeaderFilter])
	}
}

// Log runs the log hooks; the server calls it once per request or stream,
// however it ended.
func (c *Ctx) Log() {
	if c.chain != nil {
		c.see(c.chain.hooks[PhaseLog])
	}
}

// HasBodyFilter reports whether the request's chain filters the response
// body (the server then decodes it and sends it chunked).
func (c *Ctx) HasBodyFilter() bool { return c.chain != nil && len(c.chain.hooks[PhaseBodyFilter]) > 0 }

// BodyFilter passes one decoded chunk of the response body through the
// body_filter hooks and returns what to send.
func (c *Ctx) BodyFilter(chunk []byte, last bool) []byte {
	if c.chain == nil {
		return chunk
	}
	hs := c.chain.hooks[PhaseBodyFilter]
	for i := range hs {
		h := &hs[i]
		if h.filter != nil && !c.filtered(h) {
			continue
		}
		c.cur = h.slot
		chunk = h.body(c, chunk, last)
	}
	c.ResponseBody(chunk) // the readers see what the client gets
	return chunk
}

// Cost is time spent in one plugin's phase, measured on sampled requests.
type Cost struct {
	n, ns atomic.Int64
}

func (k *Cost) add(d time.Duration) {
	k.n.Add(1)
	k.ns.Add(int64(d))
}

// Costs reports, for every plugin and phase that ran on a sampled
// request, how many calls were timed and their total time.
func (r *Registry) Costs(fn func(plugin, phase string, calls int64, total time.Duration)) {
	for _, k := range r.defs {
		for p := range numPhases {
			if n := k.cost[p].n.Load(); n > 0 {
				fn(k.Name, Phase(p).String(), n, time.Duration(k.cost[p].ns.Load()))
			}
		}
	}
}
