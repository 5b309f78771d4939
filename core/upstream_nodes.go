package core

import (
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
)

// UpstreamNodes is one version of an upstream's nodes, with host names
// expanded into the addresses they resolve to, and the balancer over them.
// It is immutable once published. An UpstreamSet swaps in a new one when a
// name resolves to other addresses (core/dns.go), without a new snapshot;
// a session keeps the one it started with, so that its node indexes, its
// mask of tried nodes and its balancer's Done stay in step.
type UpstreamNodes struct {
	Addrs   []netip.AddrPort
	Weights []int
	// Tries is how many nodes a session may attempt: 1 + retries, or the
	// number of addresses when retries is unset.
	Tries int
	// Bal picks nodes (indexes into Addrs).
	Bal *Balancer
	// health is the checker's view of these nodes (nil without checks),
	// attached before the nodes are in use by any session (core/health.go).
	health atomic.Pointer[UpstreamHealth]
}

// Health is the health of these nodes, indexed like Addrs: nil without
// checks. Safe from any goroutine.
func (ns *UpstreamNodes) Health() *UpstreamHealth { return ns.health.Load() }

// Health is the health of the upstream's current nodes (nil without
// checks, or before the snapshot is published).
func (u *UpstreamSet) Health() *UpstreamHealth { return u.Nodes().Health() }

// Nodes returns the upstream's current nodes. With no address at all (its
// names have not resolved yet) Addrs is empty and nothing can be picked.
func (u *UpstreamSet) Nodes() *UpstreamNodes { return u.nodes.Load() }

// rebuild makes new nodes, each name expanded by lookup (nil: names have
// no addresses yet), and makes them current: with the upstream's checker
// (once it has one) their health view is attached first. Every change of an
// upstream's nodes goes through here.
func (u *UpstreamSet) rebuild(lookup func(name string) []netip.Addr) {
	u.nodesMu.Lock()
	defer u.nodesMu.Unlock()
	ns := u.spec.build(lookup)
	if c := u.checker.Load(); c != nil {
		c.setNodes(u, ns)
		return
	}
	u.nodes.Store(ns)
}

// upstreamSpec is what building an upstream's nodes needs, kept for
// rebuilding them when a name resolves to other addresses.
type upstreamSpec struct {
	kind    BalanceKind
	hash    *HashKey
	retries *int
	loops   int
	// failDown: with every node down, fail rather than try them anyway
	// (config.yaml upstream.all_unhealthy).
	failDown bool
	nodes    []nodeSpec
	names    []string // the distinct host names among nodes
}

// nodeSpec is one configured node: an address, or a name to resolve.
type nodeSpec struct {
	name   string // "" when addr is a literal address
	addr   netip.Addr
	port   uint16
	weight int
	prio   int
}

// add records node n, checking that its host is an IP address or a
// well-formed host name.
func (sp *upstreamSpec) add(n *Node) error {
	ns := nodeSpec{port: uint16(n.Port), weight: n.Weight, prio: n.Priority}
	if a, err := netip.ParseAddr(strings.Trim(n.Host, "[]")); err == nil {
		ns.addr = a.Unmap()
	} else {
		name, err := canonicalName(n.Host)
		if err != nil {
			return err
		}
		ns.name = name
		known := false
		for _, x := range sp.names {
			known = known || x == name
		}
		if !known {
			sp.names = append(sp.names, name)
		}
	}
	sp.nodes = append(sp.nodes, ns)
	return nil
}

// build makes the nodes, each name expanded by lookup (nil: names have no
// addresses yet). Every address of a name gets the node's weight and
// priority, as APISIX does.
func (sp *upstreamSpec) build(lookup func(name string) []netip.Addr) *UpstreamNodes {
	ns := &UpstreamNodes{}
	var prios []int
	for _, n := range sp.nodes {
		addrs := []netip.Addr{n.addr}
		if n.name != "" {
			addrs = nil
			if lookup != nil {
				addrs = lookup(n.name)
			}
		}
		for _, a := range addrs {
			ns.Addrs = append(ns.Addrs, netip.AddrPortFrom(a, n.port))
			ns.Weights = append(ns.Weights, n.weight)
			prios = append(prios, n.prio)
		}
	}
	ns.Tries = len(ns.Addrs)
	if sp.retries != nil {
		ns.Tries = 1 + *sp.retries
	}
	ns.Bal = NewBalancer(sp.kind, ns.Addrs, ns.Weights, prios, sp.loops)
	ns.Bal.Hash = sp.hash
	ns.Bal.failDown = sp.failDown
	return ns
}

// canonicalName checks a host name (RFC 1123 labels: letters, digits and
// hyphens, 1 to 63 bytes each, 253 in all; underscores are let through, as
// resolvers do) and returns it in lower case without a trailing dot.
func canonicalName(host string) (string, error) {
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "" || len(name) > 253 {
		return "", fmt.Errorf("not an IP address or a host name")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("not an IP address or a host name (label %q)", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("not an IP address or a host name (%q)", c)
			}
		}
	}
	return name, nil
}

// namedSets lists the upstreams of snap whose nodes name hosts, once each.
func namedSets(snap *Snapshot) []*UpstreamSet {
	var out []*UpstreamSet
	seen := map[*UpstreamSet]bool{}
	add := func(us *UpstreamSet) {
		if us != nil && us.spec != nil && len(us.spec.names) > 0 && !seen[us] {
			seen[us] = true
			out = append(out, us)
		}
	}
	for _, us := range snap.Upstreams {
		add(us)
	}
	for _, us := range snap.RouteUpstreams {
		add(us)
	}
	for _, us := range snap.ServiceUpstreams {
		add(us)
	}
	for _, ts := range snap.stream {
		for _, t := range ts {
			add(t.Upstream)
		}
	}
	return out
}
