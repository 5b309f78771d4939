package core

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Snapshot is one immutable, validated version of the resources, compiled for
// the data path. A session keeps the snapshot it started with to the end.
type Snapshot struct {
	Version   int64
	Upstreams map[string]*UpstreamSet
	// Routes in configuration order. The values are shared with the
	// provider and with other snapshots: never written to.
	Routes []*Route
	// RouteUpstreams are the routes' inline upstreams, by route id.
	RouteUpstreams map[string]*UpstreamSet
	stream         map[uint16][]*StreamTarget // by server_port; 0 = any port
	// HTTP is the compiled L7 router, set by a Store.Compile hook.
	HTTP any
	// The plugin-bearing resources (snapshot_plugins.go).
	Services map[string]*Service
	// ServiceUpstreams are the services' inline upstreams, by service id.
	ServiceUpstreams map[string]*UpstreamSet
	Consumers        []*Consumer // in file order (etcd: creation order)
	ConsumerGroups   map[string]*ConsumerGroup
	GlobalRules      []*GlobalRule // in file order (etcd: creation order)
	PluginConfigs    map[string]*PluginConfig
	PluginMetadata   map[string]map[string]any // by plugin name
	// Plugins is the compiled plugin state, set by a Store.Compile hook.
	Plugins any
	// Delta says, while the compile hooks run, what changed since the
	// snapshot published before this one (nil: not known, compile it all).
	Delta *Delta
}

// Delta is how a snapshot differs from Base, the one published before it by
// the same provider. A compile hook may update what it compiled for Base
// for the resources named in Changed alone. Store.Publish drops it once the
// hooks have run, so snapshots never hold on to their predecessors.
type Delta struct {
	Base *Snapshot
	// Changed holds "kind/id" of every resource added, replaced or removed
	// since Base.
	Changed map[string]bool
	// RoutesOnly: Changed holds routes alone, and everything else in the
	// snapshot is Base's own — the same maps, upstreams and services —
	// so what was attached to them on publish stays (core/etcd_routes.go).
	RoutesOnly bool
	// At, with RoutesOnly, are the places in the snapshot's Routes of the
	// changed routes it holds, in increasing order.
	At []int
}

// StreamTarget is a compiled stream route.
type StreamTarget struct {
	ID         string
	ServerAddr netip.Addr   // zero: any local address
	Remote     netip.Prefix // zero: any client
	Upstream   *UpstreamSet
	ServiceID  string
	Plugins    map[string]any // the stream route's own plugins
	// Compiled is set by Store.Compile hooks (the stream plugin chain).
	Compiled any
}

// UpstreamSet is a compiled upstream: its nodes (Nodes: addresses and a
// balancer, swapped atomically when a host name resolves to other
// addresses), timeouts and connection policy.
type UpstreamSet struct {
	ID      string
	nodes   atomic.Pointer[UpstreamNodes]
	nodesMu sync.Mutex // orders changes of nodes (DNS) and of their health view
	spec    *upstreamSpec
	Connect time.Duration
	Send    time.Duration
	Read    time.Duration
	// Stream is how TCP sessions to this upstream are relayed.
	Stream RelayOptions
	// Timeout is the configured timeouts (0 where unset) and PassHost,
	// UpstreamHost how HTTP requests carry Host: for the L7 proxy's defaults.
	Timeout      Timeouts
	PassHost     string
	UpstreamHost string
	// RetryTimeout: once this long has passed since a session's first
	// attempt, no other node is tried (0: no limit). Keepalive is how the
	// L7 proxy pools connections to the nodes (core/upstream_policy.go).
	RetryTimeout time.Duration
	Keepalive    KeepalivePolicy
	// checks is the config of the upstream's health checks; checker is
	// the one that serves it, set when the snapshot is published (its view
	// of node health goes with each version of the nodes: Health).
	checks  *healthChecks
	checker atomic.Pointer[checker]
}

// Defaults follow nginx's, which APISIX inherits: 60 s to connect, and for
// streams a 10-minute idle timeout.
const (
	DefaultConnectTimeout    = 60 * time.Second
	DefaultStreamIdleTimeout = 10 * time.Minute
)

// MatchStream finds the stream route for a connection that arrived on local
// from remote: the first route, in file order, for that port and then for
// any port, whose address conditions hold.
func (s *Snapshot) MatchStream(local, remote netip.AddrPort) *StreamTarget {
	for _, port := range [2]uint16{local.Port(), 0} {
		for _, t := range s.stream[port] {
			if t.ServerAddr.IsValid() && t.ServerAddr != local.Addr() {
				continue
			}
			if t.Remote.IsValid() && !t.Remote.Contains(remote.Addr()) {
				continue
			}
			return t
		}
	}
	return nil
}

// LoadResources reads and validates the standalone file against cfg and
// compiles it for the given number of loops.
func LoadResources(cfg *Config, path string, loops int) (*Snapshot, error) {
	var res Resources
	d, err := decodeFile(path, &res)
	if err != nil {
		return nil, err
	}
	return build(cfg, &res, d, loops)
}

func build(cfg *Config, res *Resources, d *decoder, loops int) (*Snapshot, error) {
	s := &Snapshot{
		Upstreams:      map[string]*UpstreamSet{},
		Routes:         make([]*Route, len(res.Routes)),
		RouteUpstreams: map[string]*UpstreamSet{},
		stream:         map[uint16][]*StreamTarget{},
	}
	for i := range res.Upstreams {
		u := &res.Upstreams[i]
		p := "upstreams[" + strconv.Itoa(i) + "]"
		if u.ID == "" {
			return nil, d.errf(p+".id", nil, "required")
		}
		if _, dup := s.Upstreams[u.ID]; dup {
			return nil, d.errf(p+".id", nil, "duplicate id %q", u.ID)
		}
		us, err := d.upstream(cfg, p, KindUpstreams+"/"+u.ID, u, loops)
		if err != nil {
			return nil, err
		}
		s.Upstreams[u.ID] = us
	}
	if err := s.buildPluginResources(cfg, res, d, loops); err != nil {
		return nil, err
	}
	ports := map[uint16]bool{}
	for _, a := range cfg.Listen.Stream.TCP {
		ap, _ := ParseAddr(a)
		ports[ap.Port()] = true
	}
	ids := make(map[string]bool, len(res.StreamRoutes))
	for i := range res.StreamRoutes {
		r := &res.StreamRoutes[i]
		p := "stream_routes[" + strconv.Itoa(i) + "]"
		if r.ID == "" {
			return nil, d.errf(p+".id", nil, "required")
		}
		if ids[r.ID] {
			return nil, d.errf(p+".id", nil, "duplicate id %q", r.ID)
		}
		ids[r.ID] = true
		t := &StreamTarget{ID: r.ID, ServiceID: r.ServiceID, Plugins: r.Plugins}
		if err := s.checkStreamRefs(d, p, r); err != nil {
			return nil, err
		}
		if r.ServerPort < 0 || r.ServerPort > 65535 {
			return nil, d.errf(p+".server_port", nil, "want 1 to 65535, got %d", r.ServerPort)
		}
		if r.ServerPort != 0 && !ports[uint16(r.ServerPort)] {
			return nil, d.errf(p+".server_port", nil, "no listen.stream.tcp address of %s has port %d", cfg.Path, r.ServerPort)
		}
		if r.ServerAddr != "" {
			a, err := netip.ParseAddr(r.ServerAddr)
			if err != nil {
				return nil, d.errf(p+".server_addr", nil, "want an IP address: %v", err)
			}
			t.ServerAddr = a.Unmap()
		}
		if r.RemoteAddr != "" {
			pf, err := parsePrefix(r.RemoteAddr)
			if err != nil {
				return nil, d.errf(p+".remote_addr", nil, "%v", err)
			}
			t.Remote = pf
		}
		switch {
		case r.Upstream != nil && r.UpstreamID != "":
			return nil, d.errf(p, nil, "set upstream or upstream_id, not both")
		case r.Upstream != nil:
			us, err := compileUpstream(cfg, d, p+".upstream", r.Upstream, loops)
			if err != nil {
				return nil, err
			}
			t.Upstream = us
		case r.UpstreamID != "":
			us := s.Upstreams[r.UpstreamID]
			if us == nil {
				return nil, d.errf(p+".upstream_id", nil, "no upstream with id %q", r.UpstreamID)
			}
			t.Upstream = us
		case s.serviceUpstream(r.ServiceID) != nil:
			t.Upstream = s.serviceUpstream(r.ServiceID)
		default:
			return nil, d.errf(p, nil, "needs upstream or upstream_id (here or in its service)")
		}
		port := uint16(r.ServerPort)
		s.stream[port] = append(s.stream[port], t)
	}
	ids = make(map[string]bool, len(res.Routes))
	for i := range res.Routes {
		r := &res.Routes[i]
		s.Routes[i] = r
		p := "routes[" + strconv.Itoa(i) + "]"
		if ids[r.ID] {
			return nil, d.errf(p+".id", nil, "duplicate id %q", r.ID)
		}
		ids[r.ID] = true
		us, err := s.compileRoute(cfg, d, p, r, loops) // snapshot_routes.go
		if err != nil {
			return nil, err
		}
		if us != nil {
			s.RouteUpstreams[r.ID] = us
		}
	}
	return s, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			return pf, fmt.Errorf("want an IP or CIDR: %v", err)
		}
		return pf.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("want an IP or CIDR: %v", err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// upstream compiles u, or takes the set compiled from the same, unchanged
// resource by an earlier build (d.reuse, by the "kind/id" of the resource
// u belongs to): its balancer state carries over.
func (d *decoder) upstream(cfg *Config, p, owner string, u *Upstream, loops int) (*UpstreamSet, error) {
	if us := d.reuse[owner]; us != nil {
		return us, nil
	}
	return compileUpstream(cfg, d, p, u, loops)
}

func compileUpstream(cfg *Config, d *decoder, p string, u *Upstream, loops int) (*UpstreamSet, error) {
	var kind BalanceKind
	switch u.Type {
	case "", "roundrobin":
		kind = BalanceRoundRobin
	case "chash":
		kind = BalanceCHash
	case "ewma":
		kind = BalanceEWMA
	case "least_conn":
		kind = BalanceLeastConn
	default:
		return nil, d.errf(p+".type", nil, "want roundrobin, chash, ewma or least_conn, got %q", u.Type)
	}
	var hash *HashKey
	if kind == BalanceCHash {
		switch u.HashOn {
		case "", "vars", "header", "cookie", "vars_combinations":
		default:
			_, err := ParseHashKey(u.HashOn, u.Key)
			return nil, d.errf(p+".hash_on", nil, "%v", err)
		}
		if u.Key == "" {
			return nil, d.errf(p+".type", nil, "chash needs a key (with hash_on %s)", orDefault(u.HashOn, "vars"))
		}
		h, err := ParseHashKey(u.HashOn, u.Key)
		if err != nil {
			return nil, d.errf(p+".key", nil, "%v", err)
		}
		hash = h
	} else {
		if u.HashOn != "" {
			return nil, d.errf(p+".hash_on", nil, "only used with type chash (type is %s)", orDefault(u.Type, "roundrobin"))
		}
		if u.Key != "" {
			return nil, d.errf(p+".key", nil, "only used with type chash (type is %s)", orDefault(u.Type, "roundrobin"))
		}
	}
	switch u.Scheme {
	case "", "http", "tcp":
	default:
		return nil, d.errf(p+".scheme", nil, "%q is not supported yet (http, tcp)", u.Scheme)
	}
	if len(u.Nodes) == 0 {
		return nil, d.errf(p+".nodes", nil, "at least one node is required")
	}
	us := &UpstreamSet{ID: u.ID, Connect: DefaultConnectTimeout, Read: DefaultStreamIdleTimeout,
		PassHost: u.PassHost, UpstreamHost: u.UpstreamHost}
	switch u.PassHost {
	case "", "pass", "node":
	case "rewrite":
		if u.UpstreamHost == "" {
			return nil, d.errf(p+".upstream_host", nil, "required when pass_host is rewrite")
		}
	default:
		return nil, d.errf(p+".pass_host", nil, "want pass, node or rewrite, got %q", u.PassHost)
	}
	if t := u.Timeout; t != nil {
		us.Timeout = *t
		for _, v := range []struct {
			name string
			val  float64
			dst  *time.Duration
		}{{"connect", t.Connect, &us.Connect}, {"send", t.Send, &us.Send}, {"read", t.Read, &us.Read}} {
			if v.val < 0 {
				return nil, d.errf(p+".timeout."+v.name, nil, "must not be negative")
			}
			if v.val > 0 {
				*v.dst = seconds(v.val)
			}
		}
	}
	if err := compileUpstreamPolicy(cfg, d, p, u, us); err != nil {
		return nil, err
	}
	positive := false
	spec := &upstreamSpec{kind: kind, hash: hash, retries: u.Retries, loops: loops,
		failDown: cfg.Upstream.AllUnhealthy == "fail"}
	for i := range u.Nodes {
		n := &u.Nodes[i]
		np := fmt.Sprintf("%s.nodes[%d]", p, i)
		if n.Port == 0 && (u.Scheme == "" || u.Scheme == "http") {
			// A node given without a port: the scheme's, as in APISIX. A
			// copy: the resource may be shared with other builds.
			withPort := *n
			withPort.Port = 80
			n = &withPort
		}
		if n.Port == 0 {
			return nil, d.errf(np, nil, "a port is required with scheme %s", u.Scheme)
		}
		if n.Port < 1 || n.Port > 65535 {
			return nil, d.errf(np, nil, "port %d is out of range", n.Port)
		}
		if n.Weight < 0 {
			return nil, d.errf(np, nil, "weight must not be negative")
		}
		if err := spec.add(n); err != nil {
			return nil, d.errf(np, nil, "host %q: %v", n.Host, err)
		}
		positive = positive || n.Weight > 0
	}
	if !positive {
		return nil, d.errf(p+".nodes", nil, "every node has weight 0: nothing could be picked")
	}
	if u.Retries != nil && *u.Retries < 0 {
		return nil, d.errf(p+".retries", nil, "must not be negative")
	}
	// Names get their addresses when the snapshot is published
	// (Store.Publish, core/dns.go): building never waits for DNS.
	us.spec = spec
	us.rebuild(nil)
	if err := compileHealth(cfg, d, p, u, us); err != nil {
		return nil, err
	}
	us.Stream = RelayOptions{Splice: cfg.SpliceMode(), IdleTimeout: us.Read}
	return us, nil
}

// Store holds the snapshot in force; loops read it without locking.
type Store struct {
	cur     atomic.Pointer[Snapshot]
	version atomic.Int64
	mu      sync.Mutex
	health  *Health
	// Compile runs on every snapshot before it is published, for what core
	// cannot build itself (the L7 router lives above core in the import
	// map). An error rejects the snapshot; the one in force keeps serving.
	Compile []func(*Snapshot) error
	// DNS resolves the upstream node names of published snapshots and
	// keeps them current; nil: the process's resolver from
	// /etc/resolv.conf (DefaultResolver).
	DNS *Resolver
}

// Check runs the Compile hooks on snap without publishing it (sluice
// validate): nothing becomes current and no node name is resolved.
func (s *Store) Check(snap *Snapshot) error {
	for _, c := range s.Compile {
		if err := c(snap); err != nil {
			return err
		}
	}
	return nil
}

// Load returns the current snapshot (nil before the first publish).
func (s *Store) Load() *Snapshot { return s.cur.Load() }

// Publish compiles snap and makes it current; sessions already running keep
// theirs. On error nothing changes.
func (s *Store) Publish(snap *Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() { snap.Delta = nil }()
	if err := s.Check(snap); err != nil {
		return err
	}
	snap.Version = s.version.Add(1)
	// Names first: health checks take the nodes as resolved.
	if s.routesOnly(snap) { // core/publish_routes.go
		s.resolver().trackRoutes(s, snap)
		s.healthLocked().attachRoutes(snap)
	} else {
		s.resolver().track(s, snap)
		s.healthLocked().attach(snap)
	}
	s.cur.Store(snap)
	return nil
}
