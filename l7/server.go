package l7

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/route"
)

// Options are the HTTP server's limits and timeouts.
type Options struct {
	// HeadTimeout bounds reading a whole request head (408 after it).
	HeadTimeout time.Duration
	// KeepaliveTimeout closes a client connection idle between requests.
	KeepaliveTimeout time.Duration
	// BodyTimeout closes a client whose request body stalls this long.
	BodyTimeout time.Duration
	// MaxRequests per client connection; 0 means no limit.
	MaxRequests int
	// Limits are the codec's limits for request heads.
	Limits codec.Limits
	// Upstream keep-alive pools follow each upstream's keepalive_pool
	// (core.KeepalivePolicy), not these options.
}

// DefaultOptions are nginx-like defaults, with the head timeout of issue 4.
func DefaultOptions() Options {
	return Options{
		HeadTimeout:      10 * time.Second,
		KeepaliveTimeout: 60 * time.Second,
		BodyTimeout:      60 * time.Second,
		MaxRequests:      10000,
	}
}

// OptionsFrom reads the http section of config.yaml.
func OptionsFrom(cfg *core.Config) Options {
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	o := DefaultOptions()
	h := &cfg.HTTP
	o.HeadTimeout, o.KeepaliveTimeout, o.BodyTimeout = sec(h.HeadTimeout), sec(h.KeepaliveTimeout), sec(h.BodyTimeout)
	o.MaxRequests = h.KeepaliveRequests
	o.Limits = codec.Limits{MaxRequestLine: h.MaxRequestLine, MaxHeaderBytes: h.MaxHeaderBytes, MaxFields: h.MaxHeaders, MaxBodySize: h.MaxBodySize}
	return o
}

// Upstream timeouts when an upstream sets none: nginx's, which APISIX keeps.
const defaultUpstreamTimeout = 60 * time.Second

// Server is the HTTP/1.1 reverse proxy on the loops of a group.
type Server struct {
	group *core.Group
	store *core.Store
	opts  Options
	ls    core.Listeners
	loops []*loopState
	next  atomic.Int64 // round-robin loop choice for ServeConn
	// Addrs are the bound listener addresses, in config order.
	Addrs []netip.AddrPort
}

// loopState is what one loop owns: its upstream keep-alive pools.
type loopState struct {
	pools map[netip.AddrPort]*idlePool
	free  []*exchange
	// conns are the loop's client connections, for shutdown.
	conns    map[*conn]struct{}
	draining bool
	// seq counts requests with plugins, to sample a share for cost metrics.
	seq uint64
}

// NewServer listens on addrs on every loop of g; call before g.Start. The
// store must have Compile among its hooks.
func NewServer(g *core.Group, store *core.Store, addrs []string, opts Options) (*Server, error) {
	s := &Server{group: g, store: store, opts: opts}
	for range g.Loops {
		s.loops = append(s.loops, &loopState{pools: map[netip.AddrPort]*idlePool{}, conns: map[*conn]struct{}{}})
	}
	for _, a := range addrs {
		ap, err := core.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("l7: listen %q: %w", a, err)
		}
		bound, err := g.ListenTCP(&s.ls, ap, s.accept)
		if err != nil {
			s.ls.CloseNow()
			return nil, fmt.Errorf("l7: listen %s: %w", a, err)
		}
		s.Addrs = append(s.Addrs, bound)
	}
	return s, nil
}

// StopAccepting closes the listeners and begins a graceful shutdown: idle
// keep-alive connections close now, busy ones after their current answer.
func (s *Server) StopAccepting() {
	s.group.CloseListeners(&s.ls)
	s.group.Each(func(l *core.Loop) {
		ls := s.loops[l.ID]
		ls.draining = true
		for c := range ls.conns {
			if c.state == stIdle {
				c.close()
			}
		}
	})
}

// table is a snapshot's compiled HTTP routing: t, the router's version
// for this snapshot (compile_delta.go updates the router for the next).
type table struct {
	router *route.Router
	t      *route.Table
	// build compiled the plugin chains (nil: no plugin registry); plugins
	// says whether any chain, global rules included, runs a plugin; deltas
	// counts the updates since the router was built whole.
	build   *plugin.Build
	plugins bool
	deltas  int
}

// target is what a route leads to.
type target struct {
	id        string
	serviceID string
	up        *core.UpstreamSet
	ws        bool
	// chain is the route's compiled plugins; nil when it runs none.
	chain *plugin.Chain
	meta  plugin.RouteMeta // for log plugins (routemeta.go)
	// Resolved at compile time so a request does no conversions: the
	// timeouts (the route's over the upstream's over the default), and how
	// Host is sent (pass_host, with upstream_host's bytes for rewrite).
	to       timeouts
	passHost uint8
	host     []byte
	rto      *core.Timeouts // the route's own timeouts
}

type timeouts struct{ connect, send, read time.Duration }

const (
	passHostPass uint8 = iota
	passHostNode
	passHostRewrite
)

// resolveTimeouts takes each timeout from the route when it sets one, else
// from the upstream, else nginx's 60 s.
func resolveTimeouts(route *core.Timeouts, up core.Timeouts) timeouts {
	pick := func(r func(*core.Timeouts) float64) time.Duration {
		s := r(&up)
		if route != nil && r(route) > 0 {
			s = r(route)
		}
		if s <= 0 {
			return defaultUpstreamTimeout
		}
		return time.Duration(s * float64(time.Second))
	}
	return timeouts{
		connect: pick(func(t *core.Timeouts) float64 { return t.Connect }),
		send:    pick(func(t *core.Timeouts) float64 { return t.Send }),
		read:    pick(func(t *core.Timeouts) float64 { return t.Read }),
	}
}

func newTarget(r *core.Route, up *core.UpstreamSet, ws bool) *target {
	t := &target{id: r.ID, serviceID: r.ServiceID, up: up, ws: ws, rto: r.Timeout}
	if up == nil {
		// Only a route with plugins has none; a request its plugins let
		// through is answered 503 (connectUpstream).
		t.to = resolveTimeouts(r.Timeout, core.Timeouts{})
		return t
	}
	t.useUpstream(up)
	return t
}

// Compile builds the HTTP router of snap, for a server without plugins:
// a snapshot that configures any is refused.
func Compile(snap *core.Snapshot) error { return (*Plugins)(nil).Compile(snap) }

// Compile builds the HTTP router of snap with each route's plugin chain;
// it is a core.Store compile hook, so a route the router or a plugin
// refuses rejects the whole snapshot. With snap.Delta, it updates the
// previous snapshot's router for the routes that changed (compileDelta)
// instead of building it again.
func (p *Plugins) Compile(snap *core.Snapshot) error {
	if done, err := p.compileDelta(snap); done {
		return err
	}
	b, err := p.build(snap)
	if err != nil {
		return err
	}
	specs := make([]route.Spec, 0, len(snap.Routes))
	plugins := false
	for i := range snap.Routes {
		r := snap.Routes[i]
		if disabled(r) {
			continue
		}
		spec, err := routeSpec(b, snap, i)
		if err != nil {
			return err
		}
		plugins = plugins || spec.Value.(*target).chain != nil
		specs = append(specs, spec)
	}
	rt := route.New()
	if err := rt.Build(specs); err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	snap.HTTP = &table{router: rt, t: rt.Table(), build: b, plugins: plugins}
	return nil
}

func disabled(r *core.Route) bool { return r.Status != nil && *r.Status == 0 }

// routeSpec is what the router gets for snap.Routes[i]: its target, with
// its plugin chain compiled by b.
func routeSpec(b *plugin.Build, snap *core.Snapshot, i int) (route.Spec, error) {
	r := snap.Routes[i]
	up := snap.RouteUpstream(r)
	t := newTarget(r, up, snap.RouteWebsocket(r))
	var err error
	if t.chain, err = routeChain(b, snap, r); err != nil {
		return route.Spec{}, err // it names the resource ("routes/1: plugins.key-auth: ...")
	}
	if up == nil && t.chain == nil {
		return route.Spec{}, fmt.Errorf("routes[%d] (%s): no upstream", i, r.ID)
	}
	t.meta = routeMeta(snap, r)
	host, hosts := snap.RouteHosts(r)
	return route.Spec{
		ID: r.ID, URI: r.URI, URIs: r.URIs, Host: host, Hosts: hosts,
		Methods: r.Methods, RemoteAddr: r.RemoteAddr, RemoteAddrs: r.RemoteAddrs,
		Vars: r.Vars, Priority: r.Priority,
		Value: t,
	}, nil
}

func (s *Server) accept(l *core.Loop, fd int, local, remote netip.AddrPort) {
	c := &conn{srv: s, loop: l, ls: s.loops[l.ID], fd: fd, local: local, remote: remote}
	c.init()
	if err := l.Register(fd, c); err != nil {
		l.Close(fd)
		return
	}
	c.ls.conns[c] = struct{}{}
	l.Conns.Add(1)
}
