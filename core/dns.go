package core

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Upstream node names
//
// A node's host may be a name. Building a snapshot never resolves it (a
// build must not wait for the network, and `sluice validate` must not need
// DNS): names get their addresses when the snapshot is published, from the
// Resolver, which keeps every name in use current from then on — off the
// event loops, with one scheduling goroutine and a few workers for all the
// names of the process, never one per node.
//
//   - /etc/hosts is honoured first (and "localhost" is loopback even
//     without it); other names are asked of the dns_resolver servers
//     (default: /etc/resolv.conf's), A records first and AAAA only when
//     there is no A, as APISIX's default dns_order; resolv.conf's search
//     and ndots apply.
//   - A name is asked again when its TTL runs out (dns_resolver_valid, when
//     set, replaces the records' TTL), within [1 s, 1 h].
//   - When the addresses change, every upstream using the name gets new
//     nodes — addresses and a balancer — swapped in atomically
//     (UpstreamSet.Nodes): no new snapshot, nothing else rebuilt. Sessions
//     in flight keep the nodes they started with.
//   - A failed lookup keeps the last good addresses and is logged once per
//     run of failures; the name is asked again within its TTL (at most
//     30 s later).
//   - A name that has never resolved leaves its upstream without those
//     addresses: with no address at all, HTTP requests get 503 (APISIX's
//     "no valid upstream node") and streams are closed, until it resolves.
//     The config still loads, as APISIX's does: a name that does not
//     resolve yet may well resolve soon, and refusing the config would take
//     every other change with it. Publishing waits up to 2 s (at most
//     resolver_timeout) for the first answer about names it has not seen
//     before, so a new config does not start out with empty upstreams when
//     DNS is merely slow.

// DNS bounds and pacing.
const (
	dnsMinTTL = time.Second
	dnsMaxTTL = time.Hour
	// dnsHostsTTL is how often a name found in the hosts file is looked
	// up again (the file is read again only when it changed).
	dnsHostsTTL = 5 * time.Second
	// dnsRetryMax bounds the wait before asking again about a name whose
	// lookup failed.
	dnsRetryMax   = 30 * time.Second
	dnsWorkers    = 4
	dnsFirstWait  = 2 * time.Second
	dnsDefaultTTO = 5 * time.Second // resolver_timeout's default
)

// Resolver resolves upstream node names and keeps them current (see above).
// Its goroutines start with the first name; Close stops them.
type Resolver struct {
	client dnsClient
	rc     resolvConf
	hosts  *hostsFile
	valid  time.Duration // dns_resolver_valid; 0: the records' TTL

	mu      sync.Mutex
	names   map[string]*dnsName
	owners  map[*Store][]*UpstreamSet // the named upstreams of each store's snapshot
	running bool
	closed  bool
	wake    chan struct{}
	jobs    chan *dnsName
	quit    chan struct{}
	wg      sync.WaitGroup
}

// dnsName is one name in use and what is known of it.
type dnsName struct {
	name     string
	addrs    []netip.Addr // the last good answer, sorted; nil: none yet
	ttl      time.Duration
	next     time.Time // when to ask again
	busy     bool      // a worker is asking
	answered bool      // an answer (good or not) came; first is closed
	first    chan struct{}
	failing  bool // the last lookup failed (logged once per run of failures)
	runs     int  // runs of failures, for WarnOnce's key
	retry    time.Duration
	users    map[*UpstreamSet]struct{}
}

// NewResolver makes the resolver config.yaml describes (nil cfg: the
// system's, from /etc/resolv.conf and /etc/hosts).
func NewResolver(cfg *Config) *Resolver {
	rc := readResolvConf("/etc/resolv.conf")
	timeout, valid := dnsDefaultTTO, time.Duration(0)
	if cfg != nil {
		if len(cfg.DNSResolver) > 0 {
			rc.servers = nil
			for _, s := range cfg.DNSResolver {
				if ap, err := parseNameserver(s); err == nil {
					rc.servers = append(rc.servers, ap)
				}
			}
		}
		timeout = seconds(cfg.ResolverTimeout)
		valid = time.Duration(cfg.DNSResolverValid) * time.Second
	}
	if len(rc.servers) == 0 {
		rc.servers = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53")} // resolv(5)'s default
	}
	return newResolver(rc, "/etc/hosts", valid, timeout)
}

func newResolver(rc resolvConf, hostsPath string, valid, timeout time.Duration) *Resolver {
	return &Resolver{
		client: dnsClient{servers: rc.servers, timeout: timeout},
		rc:     rc,
		hosts:  &hostsFile{path: hostsPath},
		valid:  valid,
		names:  map[string]*dnsName{},
		owners: map[*Store][]*UpstreamSet{},
		wake:   make(chan struct{}, 1),
		jobs:   make(chan *dnsName),
		quit:   make(chan struct{}),
	}
}

// DefaultResolver is the process's resolver for stores without one: the
// system's configuration.
var DefaultResolver = sync.OnceValue(func() *Resolver { return NewResolver(nil) })

func (s *Store) resolver() *Resolver {
	if s.DNS != nil {
		return s.DNS
	}
	return DefaultResolver()
}

// Close stops the resolver's goroutines; names keep the addresses they had.
func (r *Resolver) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	running := r.running
	r.mu.Unlock()
	if running {
		close(r.quit)
		r.wg.Wait()
	}
}

// track gives the named upstreams of snap, which owner is about to
// publish, their addresses as known now, keeps their names current from
// now on, and forgets those of owner's previous snapshot. Names not seen
// before are asked at once, and track waits a little for their first
// answer (see above).
func (r *Resolver) track(owner *Store, snap *Snapshot) {
	sets := namedSets(snap)
	r.mu.Lock()
	old := r.owners[owner]
	if len(sets) == 0 && len(old) == 0 {
		r.mu.Unlock()
		return
	}
	// An upstream the previous snapshot had too (the etcd provider reuses
	// unchanged ones) keeps its nodes and its balancer's state.
	tracked := make(map[*UpstreamSet]bool, len(old))
	for _, us := range old {
		tracked[us] = true
	}
	kept := make(map[*UpstreamSet]bool, len(sets))
	for _, us := range sets {
		kept[us] = tracked[us]
	}
	for _, us := range old {
		if _, still := kept[us]; still {
			continue
		}
		for _, n := range us.spec.names {
			if nm := r.names[n]; nm != nil {
				delete(nm.users, us)
			}
		}
	}
	now := time.Now()
	var waits []chan struct{}
	for _, us := range sets {
		if kept[us] {
			continue
		}
		for _, n := range us.spec.names {
			nm := r.names[n]
			if nm == nil {
				nm = &dnsName{name: n, users: map[*UpstreamSet]struct{}{}, first: make(chan struct{}), next: now}
				r.names[n] = nm
				// The hosts file answers at once, without the network.
				if addrs, ok := r.local(n); ok {
					nm.addrs, nm.ttl, nm.next, nm.answered = addrs, dnsHostsTTL, now.Add(dnsHostsTTL), true
					close(nm.first)
				}
			}
			if !nm.answered {
				waits = append(waits, nm.first)
			}
			nm.users[us] = struct{}{}
		}
		us.rebuild(r.addrsLocked)
	}
	if len(sets) > 0 {
		r.owners[owner] = sets
	} else {
		delete(r.owners, owner)
	}
	for n, nm := range r.names {
		if len(nm.users) == 0 {
			delete(r.names, n) // a worker still asking about it finds it gone
		}
	}
	if !r.running && !r.closed && len(r.names) > 0 {
		r.running = true
		r.wg.Add(1 + dnsWorkers)
		go r.schedule()
		for range dnsWorkers {
			go r.work()
		}
	}
	r.mu.Unlock()
	r.kick()
	if len(waits) > 0 {
		t := time.NewTimer(min(dnsFirstWait, r.client.timeout))
		defer t.Stop()
		for _, w := range waits {
			select {
			case <-w:
			case <-t.C:
				return
			}
		}
	}
}

// addrsLocked is the last good answer for name (nil: none).
func (r *Resolver) addrsLocked(name string) []netip.Addr {
	if nm := r.names[name]; nm != nil {
		return nm.addrs
	}
	return nil
}

// Lookup returns the addresses the resolver holds for name (nil when it
// does not track it or has none yet).
func (r *Resolver) Lookup(name string) []netip.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.addrsLocked(name))
}

func (r *Resolver) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// schedule hands every name that is due to the workers, then sleeps until
// the next one is due or track or a worker wakes it.
func (r *Resolver) schedule() {
	defer r.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		r.mu.Lock()
		now := time.Now()
		next := now.Add(time.Hour)
		var due []*dnsName
		for _, nm := range r.names {
			switch {
			case nm.busy:
			case !nm.next.After(now):
				nm.busy = true
				due = append(due, nm)
			case nm.next.Before(next):
				next = nm.next
			}
		}
		r.mu.Unlock()
		for _, nm := range due {
			select {
			case r.jobs <- nm:
			case <-r.quit:
				return
			}
		}
		if len(due) > 0 {
			continue // more may be due by now
		}
		t.Reset(time.Until(next))
		select {
		case <-t.C:
		case <-r.wake:
		case <-r.quit:
			return
		}
	}
}

func (r *Resolver) work() {
	defer r.wg.Done()
	for {
		select {
		case nm := <-r.jobs:
			addrs, ttl, local, err := r.resolve(nm.name)
			if r.valid > 0 && !local {
				ttl = r.valid
			}
			r.answer(nm, addrs, ttl, err)
		case <-r.quit:
			return
		}
	}
}

// local answers name from the hosts file, or as loopback for localhost.
func (r *Resolver) local(name string) ([]netip.Addr, bool) {
	if addrs, ok := r.hosts.lookup(name); ok {
		return addrs, true
	}
	if isLocalhost(name) {
		return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}, true
	}
	return nil, false
}

// resolve looks name up: the hosts file (local), then DNS for each search
// candidate until one exists.
func (r *Resolver) resolve(name string) (addrs []netip.Addr, ttl time.Duration, local bool, err error) {
	if addrs, ok := r.local(name); ok {
		return addrs, dnsHostsTTL, true, nil
	}
	for _, fqdn := range r.rc.candidates(name) {
		addrs, ttl, err = r.client.lookup(fqdn)
		if err == nil {
			return addrs, ttl, false, nil
		}
		if !errors.Is(err, ErrNoSuchHost) {
			break // the servers failed: asking for other names would too
		}
	}
	return nil, 0, false, err
}

// answer records a lookup's outcome and, when the addresses changed, gives
// every upstream using the name new nodes.
func (r *Resolver) answer(nm *dnsName, addrs []netip.Addr, ttl time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	nm.busy = false
	if !nm.answered {
		// Whoever waits for the first answer sees the nodes it made.
		nm.answered = true
		defer close(nm.first)
	}
	live := r.names[nm.name] == nm
	now := time.Now()
	if err != nil {
		if !nm.failing {
			nm.failing = true
			nm.runs++
			if live {
				key := fmt.Sprintf("dns-%s-%d", nm.name, nm.runs)
				if nm.addrs != nil {
					WarnOnce(key, "dns: resolving %s failed: %v; keeping its last good addresses %v until it resolves again", nm.name, err, nm.addrs)
				} else {
					WarnOnce(key, "dns: resolving %s failed: %v; its nodes have no address until it resolves", nm.name, err)
				}
			}
		}
		// Ask again within the TTL of the last good answer, or back off
		// from 1 s for a name that never resolved.
		if nm.addrs != nil {
			nm.retry = nm.ttl
		} else {
			nm.retry = max(dnsMinTTL, 2*nm.retry)
		}
		nm.retry = min(nm.retry, dnsRetryMax)
		nm.next = now.Add(nm.retry)
		r.kick()
		return
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	nm.ttl = min(max(ttl, dnsMinTTL), dnsMaxTTL)
	nm.next, nm.retry = now.Add(nm.ttl), 0
	if nm.failing && live && nm.addrs != nil {
		Infof("dns: %s resolves again", nm.name)
	}
	nm.failing = false
	changed := !slices.Equal(addrs, nm.addrs)
	nm.addrs = addrs
	if changed && live {
		Infof("dns: %s is %v (ttl %v); %d upstream(s) updated", nm.name, addrs, nm.ttl, len(nm.users))
		for us := range nm.users {
			us.rebuild(r.addrsLocked)
		}
	}
	r.kick()
}
