// Package l4 is sluice's TCP proxy: listeners from listen.stream.tcp, stream
// routes matched by server port and client address, an upstream node picked
// by the route's balancer, and the bytes relayed both ways on the accepting
// loop (splice(2) by default, with flow control and half-close).
//
// A connection whose route or upstream cannot be found is closed and the
// reason is logged once. A node that refuses or does not answer within the
// upstream's connect timeout is skipped and the next node tried, up to the
// upstream's retries.
package l4

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
)

// Server proxies TCP streams by the stream routes of the current snapshot.
type Server struct {
	group *core.Group
	store *core.Store
	ls    core.Listeners
	// Addrs are the bound listener addresses, in config order.
	Addrs []netip.AddrPort
}

// NewServer opens a listener per address on every loop of g. Call before
// g.Start.
func NewServer(g *core.Group, store *core.Store, addrs []string) (*Server, error) {
	s := &Server{group: g, store: store}
	for _, a := range addrs {
		ap, err := core.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("l4: listen %q: %w", a, err)
		}
		bound, err := g.ListenTCP(&s.ls, ap, s.accept)
		if err != nil {
			s.ls.CloseNow()
			return nil, fmt.Errorf("l4: listen %s: %w", a, err)
		}
		s.Addrs = append(s.Addrs, bound)
	}
	return s, nil
}

// StopAccepting closes the listeners; sessions already open go on.
func (s *Server) StopAccepting() { s.group.CloseListeners(&s.ls) }

// Drain waits until no session is open or the deadline passes, and reports
// how many were still open.
func (s *Server) Drain(deadline time.Time) int64 {
	for time.Now().Before(deadline) {
		if s.group.Live() == 0 {
			return 0
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s.group.Live()
}

func (s *Server) accept(l *core.Loop, fd int, local, remote netip.AddrPort) {
	snap := s.store.Load()
	var t *core.StreamTarget
	if snap != nil {
		t = snap.MatchStream(local, remote)
	}
	if t == nil {
		core.WarnOnce(fmt.Sprintf("l4-noroute-%s", local), "l4: no stream route matches connections to %s (first from %s); closing them", local, remote)
		l.Close(fd)
		return
	}
	ss := &session{loop: l, client: fd, local: local, remote: remote, up: t.Upstream, nodes: t.Upstream.Nodes(), route: t.ID, node: -1, firstAt: l.Timers().Ticks()}
	l.Conns.Add(1)
	if ch, _ := t.Compiled.(*plugin.Chain); ch != nil && !ss.preread(ch, local, remote, t.ID) {
		ss.logPlugins()
		l.Close(fd)
		l.Conns.Add(-1)
		return
	}
	ss.next(nil)
}

// session is one proxied connection while its upstream is being connected.
type session struct {
	loop          *core.Loop
	client        int
	local, remote netip.AddrPort
	route         string
	up            *core.UpstreamSet
	nodes         *core.UpstreamNodes // the upstream's nodes when the session began
	tried         uint64
	attempts      int
	firstAt       int64 // loop tick of the first attempt, for retry_timeout
	node          int   // -1: none picked, or reported done
	conn          core.Connect
	connectAt     time.Time // when the current attempt began (ewma only)
	connectTime   time.Duration
	key           [48]byte   // chash key scratch: the client address as text
	plug          *streamCtx // nil when the route has no plugins
}

// next tries another node after err (nil on the first attempt).
func (ss *session) next(err error) {
	u, ns := ss.up, ss.nodes
	if len(ns.Addrs) == 0 {
		core.WarnOnce("l4-noaddr-"+ss.route, "l4: stream route %s: its upstream has no address yet (a node name has not resolved); closing its connections until it has", ss.route)
		ss.loop.Close(ss.client)
		ss.loop.Conns.Add(-1)
		return
	}
	if ss.attempts >= ns.Tries || (ss.attempts > 0 && u.RetryTimeout > 0 &&
		time.Duration(ss.loop.Timers().Ticks()-ss.firstAt)*core.WheelTick >= u.RetryTimeout) {
		ss.fail(err)
		return
	}
	var key []byte
	if ns.Bal.Hash != nil {
		// Streams hash on the client address whatever the key says: it is
		// the one variable a stream has (APISIX's stream chash does the same).
		key = ss.remote.Addr().AppendTo(ss.key[:0])
	}
	n := ns.Bal.Pick(ss.loop.ID, key, ss.tried)
	if n < 0 {
		ss.fail(err)
		return
	}
	ss.attempts++
	ss.node = n
	if n < 64 {
		ss.tried |= 1 << n
	}
	if ns.Bal.Kind() == core.BalanceEWMA {
		ss.connectAt = time.Now()
	}
	ss.conn.Start(ss.loop, ns.Addrs[n], u.Connect, ss)
}

// report tells the balancer the picked node's outcome: for a stream, the
// time to connect (a relay's length says nothing about the node), reported
// when the session ends so that least_conn counts it as active until then.
func (ss *session) report(failed bool) {
	if ss.node < 0 {
		return
	}
	lat := time.Duration(-1)
	if !ss.connectAt.IsZero() {
		lat = ss.connectTime
		if failed {
			lat = time.Since(ss.connectAt)
		}
	}
	ss.nodes.Bal.Done(ss.loop.ID, ss.node, lat, failed)
	ss.node = -1
}

func (ss *session) OnConnect(fd int, err error) {
	if err != nil {
		core.WarnOnce(fmt.Sprintf("l4-connect-%s-%s-%v", ss.route, ss.nodes.Addrs[ss.node], err),
			"l4: stream route %s: upstream node %s: %v; trying the next node", ss.route, ss.nodes.Addrs[ss.node], err)
		ss.nodes.Health().ReportFailure(ss.node, err == core.ErrConnectTimeout)
		ss.report(true)
		ss.next(err)
		return
	}
	if !ss.connectAt.IsZero() {
		ss.connectTime = time.Since(ss.connectAt)
	}
	ss.nodes.Health().ReportSuccess(ss.node)
	if _, err := core.NewRelay(ss.loop, ss.client, fd, &ss.up.Stream, ss.done); err != nil {
		core.Errorf("l4: relay %s: %v", ss.remote, err)
	}
}

func (ss *session) fail(err error) {
	core.WarnOnce(fmt.Sprintf("l4-fail-%s", ss.route), "l4: stream route %s: no upstream node could be reached (last error: %v); closing the client (%s)", ss.route, err, ss.remote)
	ss.loop.Close(ss.client)
	ss.loop.Conns.Add(-1)
	ss.ended(nil, err)
}

func (ss *session) done(r *core.Relay, err error) {
	ss.loop.Conns.Add(-1)
	if err != nil {
		core.Debugf("l4: %s → %s ended: %v (%d bytes up, %d down)", ss.remote, ss.nodes.Addrs[ss.node], err, r.BytesUp(), r.BytesDown())
	}
	ss.ended(r, err) // before report forgets the node
	ss.report(false)
}
