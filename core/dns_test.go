package core

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/testnet"
)

func TestResolvConfAndNameservers(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "resolv.conf", `# comment
nameserver 10.0.0.1
nameserver ::1
domain ignored.example
search Svc.Cluster.Local. cluster.local
options timeout:2 ndots:5
`)
	rc := readResolvConf(p)
	if fmt.Sprint(rc.servers) != "[10.0.0.1:53 [::1]:53]" || fmt.Sprint(rc.search) != "[svc.cluster.local cluster.local]" || rc.ndots != 5 {
		t.Fatalf("got %+v", rc)
	}
	if got := rc.candidates("web"); fmt.Sprint(got) != "[web.svc.cluster.local. web.cluster.local. web.]" {
		t.Errorf("short name: %v", got)
	}
	rc.ndots = 1
	if got := rc.candidates("web.example"); fmt.Sprint(got) != "[web.example. web.example.svc.cluster.local. web.example.cluster.local.]" {
		t.Errorf("dotted name: %v", got)
	}
	if got := rc.candidates("web.example."); fmt.Sprint(got) != "[web.example.]" {
		t.Errorf("absolute name: %v", got)
	}
	if rc := readResolvConf(filepath.Join(dir, "missing")); len(rc.servers) != 0 || rc.ndots != 1 {
		t.Errorf("missing file: %+v", rc)
	}
	for in, want := range map[string]string{"1.2.3.4": "1.2.3.4:53", "1.2.3.4:5353": "1.2.3.4:5353", "[::1]:54": "[::1]:54", "::1": "[::1]:53", "[fe80::1]": "[fe80::1]:53"} {
		if ap, err := parseNameserver(in); err != nil || ap.String() != want {
			t.Errorf("%s: %v %v, want %s", in, ap, err, want)
		}
	}
	for _, bad := range []string{"dns.example", "1.2.3.4:0", "1.2.3.4:99999", ""} {
		if _, err := parseNameserver(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestHostsFile(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "hosts", "127.0.0.1 localhost\n::1 localhost ip6-localhost\n10.1.1.1 Web.Local web # comment\n10.1.1.2 web\n# 10.9.9.9 gone\nfe80::1%eth0 zoned\n")
	h := &hostsFile{path: p}
	for name, want := range map[string]string{"localhost": "[127.0.0.1]", "ip6-localhost": "[::1]", "web": "[10.1.1.1 10.1.1.2]", "web.local": "[10.1.1.1]"} {
		if got, ok := h.lookup(name); !ok || fmt.Sprint(got) != want {
			t.Errorf("%s: %v %v, want %s", name, got, ok, want)
		}
	}
	for _, name := range []string{"gone", "zoned", "nothing"} {
		if got, ok := h.lookup(name); ok {
			t.Errorf("%s: %v", name, got)
		}
	}
}

func TestHostNamesAreChecked(t *testing.T) {
	for _, good := range []string{"web", "Web.Example.", "a-b.c_d.example", "x1.y2"} {
		if _, err := canonicalName(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	for _, bad := range []string{"", "web..example", "-web", "web-", "we b", "web/x", strings.Repeat("a", 64) + ".example"} {
		if _, err := canonicalName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	_, err := loadRoutes(t, streamCfg, "upstreams: [{id: u, nodes: {\"we b.example:80\": 1}}]\n")
	if err == nil || !strings.Contains(err.Error(), `upstreams[0].nodes[0]: host "we b.example": not an IP address or a host name`) {
		t.Fatalf("got %v", err)
	}
}

func testClient(s *testnet.DNSServer) *dnsClient {
	return &dnsClient{servers: []netip.AddrPort{netip.MustParseAddrPort(s.Addr)}, timeout: 2 * time.Second}
}

// The client against a real DNS server on loopback: A records with the
// smallest TTL, a CNAME chain, AAAA only without A, NXDOMAIN, and TCP
// after a truncated UDP answer.
func TestDNSClient(t *testing.T) {
	s := testnet.ServeDNS(t)
	s.Set("two.test", 30, "10.0.0.2", "10.0.0.1", "fd00::1")
	s.SetCNAME("alias.test", "two.test", 7)
	s.Set("six.test", 60, "fd00::6")
	c := testClient(s)
	for _, tc := range []struct {
		name, want string
		ttl        time.Duration
	}{
		{"two.test.", "[10.0.0.2 10.0.0.1]", 30 * time.Second},
		{"alias.test.", "[10.0.0.2 10.0.0.1]", 7 * time.Second},
		{"six.test.", "[fd00::6]", 60 * time.Second},
	} {
		addrs, ttl, err := c.lookup(tc.name)
		if err != nil || fmt.Sprint(addrs) != tc.want || ttl != tc.ttl {
			t.Errorf("%s: %v ttl %v err %v; want %s ttl %v", tc.name, addrs, ttl, err, tc.want, tc.ttl)
		}
	}
	if _, _, err := c.lookup("nothing.test."); !errors.Is(err, ErrNoSuchHost) {
		t.Errorf("NXDOMAIN: %v", err)
	}
	s.TruncateUDP(true)
	before := s.TCPQueries.Load()
	if addrs, _, err := c.lookup("two.test."); err != nil || len(addrs) != 2 || s.TCPQueries.Load() == before {
		t.Errorf("truncated: %v %v, %d TCP queries", addrs, err, s.TCPQueries.Load()-before)
	}
	s.Stop()
	if _, _, err := c.lookup("two.test."); err == nil || errors.Is(err, ErrNoSuchHost) {
		t.Errorf("stopped server: %v", err)
	}
}

// waitNodes polls us's addresses until they are want or 10 s pass, and
// says how long it took.
func waitNodes(t *testing.T, us *UpstreamSet, want string) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 10*time.Second {
		if fmt.Sprint(us.Nodes().Addrs) == want {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nodes are %v after 10 s, want %s", us.Nodes().Addrs, want)
	return 0
}

// A published upstream naming a host gets the addresses DNS gives, new
// ones when the answer changes (re-asked on its TTL), keeps them when the
// server goes away, and counts that as one run of failures (logged once:
// cmd/sluice's TestDNSUpstreams reads the log of the real binary).
func TestResolverKeepsUpstreamsCurrent(t *testing.T) {
	s := testnet.ServeDNS(t)
	s.Set("svc.test", 1, "10.0.0.2")
	r := newResolver(resolvConf{servers: []netip.AddrPort{netip.MustParseAddrPort(s.Addr)}, ndots: 1}, filepath.Join(t.TempDir(), "hosts"), 0, time.Second)
	t.Cleanup(r.Close)
	store := &Store{DNS: r}
	snap, err := loadRoutes(t, streamCfg, `upstreams:
  - {id: named, nodes: {"svc.test:8080": 2, "10.9.9.9:80": 1}}
  - {id: plain, nodes: {"10.9.9.9:80": 1}}
`)
	if err != nil {
		t.Fatal(err)
	}
	named, plain := snap.Upstreams["named"], snap.Upstreams["plain"]
	if got := fmt.Sprint(named.Nodes().Addrs); got != "[10.9.9.9:80]" {
		t.Fatalf("before publishing, nodes are %s: the build must not resolve", got)
	}
	plainNodes := plain.Nodes()
	if err := store.Publish(snap); err != nil {
		t.Fatal(err)
	}
	// Publishing waited for the first answer.
	ns := named.Nodes()
	if got := fmt.Sprint(ns.Addrs); got != "[10.0.0.2:8080 10.9.9.9:80]" || ns.Weights[0] != 2 || ns.Tries != 2 {
		t.Fatalf("after publishing: %s, weights %v, tries %d", got, ns.Weights, ns.Tries)
	}
	s.Set("svc.test", 1, "10.0.0.3", "10.0.0.1")
	took := waitNodes(t, named, "[10.0.0.1:8080 10.0.0.3:8080 10.9.9.9:80]")
	t.Logf("new addresses in use %v after the DNS change (ttl 1 s)", took)
	if ns2 := named.Nodes(); ns2 == ns || ns2.Bal == ns.Bal {
		t.Fatal("the nodes changed in place: sessions holding the old ones would see them move")
	}
	if plain.Nodes() != plainNodes {
		t.Fatal("an upstream without names was rebuilt")
	}
	s.Stop()
	time.Sleep(3500 * time.Millisecond) // three or so failed re-resolutions
	if got := fmt.Sprint(named.Nodes().Addrs); got != "[10.0.0.1:8080 10.0.0.3:8080 10.9.9.9:80]" {
		t.Fatalf("after the server went away: %s", got)
	}
	r.mu.Lock()
	nm := r.names["svc.test"]
	runs, failing := nm.runs, nm.failing
	r.mu.Unlock()
	if runs != 1 || !failing {
		t.Fatalf("%d runs of failures (failing now: %v), want one still going", runs, failing)
	}
}

// A name that has never resolved leaves its upstream without addresses
// (the config still loads; publishing waits at most resolver_timeout), and
// it gets them once the name resolves.
func TestResolverNameThatDoesNotResolveYet(t *testing.T) {
	s := testnet.ServeDNS(t)
	r := newResolver(resolvConf{servers: []netip.AddrPort{netip.MustParseAddrPort(s.Addr)}, ndots: 1}, filepath.Join(t.TempDir(), "hosts"), 0, 500*time.Millisecond)
	t.Cleanup(r.Close)
	snap, err := loadRoutes(t, streamCfg, "stream_routes: [{id: s, upstream: {nodes: {\"late.test:9\": 1}}}]\n")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := (&Store{DNS: r}).Publish(snap); err != nil {
		t.Fatal(err)
	}
	us := snap.stream[0][0].Upstream
	if ns := us.Nodes(); len(ns.Addrs) != 0 || ns.Bal.Pick(0, nil, 0) != -1 {
		t.Fatalf("nodes %v before the name exists", ns.Addrs)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("publishing took %v", el)
	}
	s.Set("late.test", 60, "10.0.0.7")
	waitNodes(t, us, "[10.0.0.7:9]")
}

// The hosts file is honoured first (no DNS server at all here), and
// localhost is loopback even when the file does not name it.
func TestResolverHostsFileFirst(t *testing.T) {
	dir := t.TempDir()
	hosts := writeFile(t, dir, "hosts", "10.1.1.1 web.internal\n")
	r := newResolver(resolvConf{servers: []netip.AddrPort{netip.MustParseAddrPort(testnet.RefusedAddr(t))}, ndots: 1}, hosts, 0, time.Second)
	t.Cleanup(r.Close)
	snap, err := loadRoutes(t, streamCfg, "upstreams: [{id: u, nodes: {\"web.internal:80\": 1, \"localhost:81\": 1}}]\n")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := (&Store{DNS: r}).Publish(snap); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(snap.Upstreams["u"].Nodes().Addrs); got != "[10.1.1.1:80 127.0.0.1:81]" {
		t.Fatalf("nodes %s", got)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Fatalf("names from the hosts file took %v to publish: it should not wait for DNS", el)
	}
}

// A name no published snapshot uses any more is forgotten (no longer
// asked about); one still in use by the new snapshot is kept, with its
// addresses, and the new snapshot's upstream gets them at once.
func TestResolverForgetsUnusedNames(t *testing.T) {
	s := testnet.ServeDNS(t)
	s.Set("a.test", 60, "10.0.0.1")
	s.Set("b.test", 60, "10.0.0.2")
	r := newResolver(resolvConf{servers: []netip.AddrPort{netip.MustParseAddrPort(s.Addr)}, ndots: 1}, filepath.Join(t.TempDir(), "hosts"), 0, time.Second)
	t.Cleanup(r.Close)
	store := &Store{DNS: r}
	publish := func(routes string) *Snapshot {
		snap, err := loadRoutes(t, streamCfg, routes)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Publish(snap); err != nil {
			t.Fatal(err)
		}
		return snap
	}
	publish("upstreams: [{id: a, nodes: {\"a.test:1\": 1}}, {id: b, nodes: {\"b.test:1\": 1}}]\n")
	queries := s.Queries.Load()
	snap := publish("upstreams: [{id: a2, nodes: {\"a.test:2\": 1}}]\n")
	if got := fmt.Sprint(snap.Upstreams["a2"].Nodes().Addrs); got != "[10.0.0.1:2]" {
		t.Fatalf("the new snapshot's upstream: %s", got)
	}
	if s.Queries.Load() != queries {
		t.Fatal("a name already known was asked again for a new snapshot")
	}
	if r.Lookup("b.test") != nil || !slices.Equal(r.Lookup("a.test"), []netip.Addr{netip.MustParseAddr("10.0.0.1")}) {
		t.Fatalf("a.test %v, b.test %v", r.Lookup("a.test"), r.Lookup("b.test"))
	}
}

func TestResolverConfigKeys(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"dns_resolver: [\"dns.example\"]\n", `dns_resolver[0]: "dns.example": want an IP address, ip:port or [ipv6]:port`},
		{"dns_resolver_valid: -1\n", "dns_resolver_valid: must not be negative"},
		{"resolver_timeout: 0\n", "resolver_timeout: want a positive number of seconds, got 0"},
	} {
		_, err := LoadConfig(writeFile(t, t.TempDir(), "config.yaml", "config: {provider: yaml}\n"+tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.body, err, tc.want)
		}
	}
	c, err := LoadConfig(writeFile(t, t.TempDir(), "config.yaml", "config: {provider: yaml}\ndns_resolver: [\"127.0.0.1:5353\", \"::1\"]\ndns_resolver_valid: 30\nresolver_timeout: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := NewResolver(c)
	if fmt.Sprint(r.client.servers) != "[127.0.0.1:5353 [::1]:53]" || r.valid != 30*time.Second || r.client.timeout != 2*time.Second {
		t.Fatalf("resolver from config: servers %v, valid %v, timeout %v", r.client.servers, r.valid, r.client.timeout)
	}
}

// An upstream the next snapshot reuses as compiled (the etcd provider does
// for unchanged resources) keeps its nodes, balancer state included.
func TestResolverKeepsReusedUpstreams(t *testing.T) {
	s := testnet.ServeDNS(t)
	s.Set("a.test", 60, "10.0.0.1")
	r := newResolver(resolvConf{servers: []netip.AddrPort{netip.MustParseAddrPort(s.Addr)}, ndots: 1}, filepath.Join(t.TempDir(), "hosts"), 0, time.Second)
	t.Cleanup(r.Close)
	store := &Store{DNS: r}
	snap, err := loadRoutes(t, streamCfg, "upstreams: [{id: a, nodes: {\"a.test:1\": 1}}]\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Publish(snap); err != nil {
		t.Fatal(err)
	}
	us := snap.Upstreams["a"]
	before := us.Nodes()
	if err := store.Publish(&Snapshot{Upstreams: snap.Upstreams}); err != nil {
		t.Fatal(err)
	}
	if us.Nodes() != before {
		t.Fatal("a reused upstream got new nodes (and a fresh balancer) on an unrelated publish")
	}
	s.Set("a.test", 60, "10.0.0.9")
	if r.Lookup("a.test") == nil {
		t.Fatal("the reused upstream's name was forgotten")
	}
}
