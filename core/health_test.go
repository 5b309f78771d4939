package core

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/testnet"
)

// Every checks field is validated with file, line, key and reason; https
// probes and passive-only checks are refused by name.
func TestChecksErrors(t *testing.T) {
	up := func(checks string) string {
		return "upstreams:\n  - id: u\n    nodes: {\"127.0.0.1:1\": 1}\n    checks: " + checks + "\n"
	}
	cases := []struct {
		name, body, want string
	}{
		{"https", up("{active: {type: https}}"), `routes.yaml:4: upstreams[0].checks.active.type: https probes are not supported yet`},
		{"type", up("{active: {type: udp}}"), `upstreams[0].checks.active.type: want http, https or tcp, got "udp"`},
		{"passive only", up("{passive: {unhealthy: {http_failures: 2}}}"), "upstreams[0].checks.passive: needs checks.active too"},
		{"empty", up("{}"), "upstreams[0].checks: needs active"},
		{"interval", up("{active: {healthy: {interval: 0}}}"), "upstreams[0].checks.active.healthy.interval: want a positive number of seconds"},
		{"timeout", up("{active: {timeout: -1}}"), "upstreams[0].checks.active.timeout: want a positive number"},
		{"successes", up("{active: {healthy: {successes: 255}}}"), "upstreams[0].checks.active.healthy.successes: want 1 to 254, got 255"},
		{"passive timeouts", up("{active: {}, passive: {unhealthy: {timeouts: 0}}}"), "upstreams[0].checks.passive.unhealthy.timeouts: want 1 to 254, got 0"},
		{"status", up("{active: {unhealthy: {http_statuses: [500, 99]}}}"), "upstreams[0].checks.active.unhealthy.http_statuses[1]: want a status from 200 to 599, got 99"},
		{"dup status", up("{active: {healthy: {http_statuses: [200, 200]}}}"), "upstreams[0].checks.active.healthy.http_statuses[1]: duplicate status 200"},
		{"path", up("{active: {http_path: status}}"), `upstreams[0].checks.active.http_path: want a path starting with /`},
		{"header", up("{active: {req_headers: [\"no colon\"]}}"), `upstreams[0].checks.active.req_headers[0]: want "Name: value"`},
		{"port", up("{active: {port: 70000}}"), "upstreams[0].checks.active.port: want 1 to 65535, got 70000"},
		{"unknown", up("{active: {interval: 1}}"), "upstreams[0].checks.active.interval: unknown key"},
		{"concurrency", up("{active: {concurrency: 0}}"), "upstreams[0].checks.active.concurrency: want at least 1"},
		{"inline", "routes:\n  - id: r\n    uri: /\n    upstream: {nodes: {\"127.0.0.1:1\": 1}, checks: {active: {type: https}}}\n", "routes[0].upstream.checks.active.type: https probes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadRoutes(t, streamCfg, tc.body)
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.body)
			}
			if !IsConfigError(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
	_, err := LoadConfig(writeFile(t, t.TempDir(), "config.yaml", "config: {provider: yaml}\nupstream: {all_unhealthy: maybe}\n"))
	if err == nil || !strings.Contains(err.Error(), `upstream.all_unhealthy: want try or fail, got "maybe"`) {
		t.Errorf("all_unhealthy: %v", err)
	}
}

// APISIX's defaults apply to every field left out.
func TestChecksDefaults(t *testing.T) {
	s, err := loadRoutes(t, streamCfg, "upstreams:\n  - {id: u, nodes: {\"127.0.0.1:1\": 1}, checks: {active: {}, passive: {}}}\n")
	if err != nil {
		t.Fatal(err)
	}
	hc := s.Upstreams["u"].checks
	if hc.typ != "http" || hc.timeout != time.Second || hc.concurrency != 10 || hc.path != "/" ||
		hc.interval != [2]time.Duration{time.Second, time.Second} {
		t.Errorf("active defaults: %+v", hc)
	}
	if hc.active != (thresholds{successes: 2, httpFailures: 5, tcpFailures: 2, timeouts: 3}) {
		t.Errorf("active thresholds: %+v", hc.active)
	}
	for _, st := range []int{200, 302} {
		if !hc.okStatus.has(st) {
			t.Errorf("active healthy statuses lack %d", st)
		}
	}
	for _, st := range []int{429, 404, 500, 501, 502, 503, 504, 505} {
		if !hc.badStatus.has(st) {
			t.Errorf("active unhealthy statuses lack %d", st)
		}
	}
	if hc.okStatus.has(201) || hc.badStatus.has(400) || hc.okStatus.has(600) || hc.okStatus.has(199) {
		t.Error("status sets hold more than the defaults")
	}
	p := hc.passive
	if p == nil || !p.statuses || p.limits != (thresholds{successes: 5, httpFailures: 5, tcpFailures: 2, timeouts: 7}) {
		t.Fatalf("passive defaults: %+v", p)
	}
	if !p.okStatus.has(226) || !p.okStatus.has(308) || p.okStatus.has(400) || !p.badStatus.has(503) || p.badStatus.has(502) {
		t.Error("passive status defaults")
	}
	if got := string(hc.probeRequest("127.0.0.1:8080")); got != "GET / HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nUser-Agent: sluice-healthcheck\r\nConnection: close\r\n\r\n" {
		t.Errorf("probe request %q", got)
	}
}

// testChecker gives b a view over addrs from a checker that runs no probes.
func testChecker(b *Balancer, addrs []netip.AddrPort) *checker {
	c := &checker{key: "test"}
	hc := &healthChecks{typ: "tcp", concurrency: 1, active: thresholds{1, 1, 1, 1},
		passive: &passiveChecks{statuses: true, limits: thresholds{2, 3, 2, 2}}}
	hc.okStatus.add(200)
	hc.passive.okStatus.add(200)
	hc.passive.badStatus.add(500)
	us := &UpstreamSet{checks: hc}
	us.nodes.Store(&UpstreamNodes{Addrs: addrs, Bal: b})
	c.update(us)
	return c
}

func (c *checker) force(i int, s uint32) {
	c.mu.Lock()
	c.setState(c.view.nodes[i], s)
	c.mu.Unlock()
}

// Counting follows lua-resty-healthcheck: thresholds flip the state, the
// "mostly" states sit between, a success clears failures and vice versa,
// and a node's counts stay after it flips (as APISIX's control API shows).
func TestHealthCounting(t *testing.T) {
	addrs, weights, prios := testNodes(2)
	b := NewBalancer(BalanceRoundRobin, addrs, weights, prios, 1)
	c := testChecker(b, addrs)
	v := c.view
	n := v.nodes[0]
	lim := &thresholds{successes: 2, httpFailures: 3, tcpFailures: 2, timeouts: 2}
	step := func(kind uint8, want string, counts [4]uint32) {
		t.Helper()
		c.report(n, kind, lim)
		got := [4]uint32{n.success, n.httpFail, n.tcpFail, n.timeouts}
		if s := stateNames[n.state.Load()]; s != want || got != counts {
			t.Fatalf("after report %d: %s %v, want %s %v", kind, s, got, want, counts)
		}
		if v.Down(0) != isDown(n.state.Load()) || int(v.nDown.Load()) != map[bool]int{true: 1}[v.Down(0)] {
			t.Fatalf("view: down %v, nDown %d in state %s", v.Down(0), v.nDown.Load(), want)
		}
	}
	step(reportSuccess, "healthy", [4]uint32{})
	step(reportHTTPFailure, "mostly_healthy", [4]uint32{0, 1, 0, 0})
	step(reportTCPFailure, "mostly_healthy", [4]uint32{0, 1, 1, 0})
	step(reportSuccess, "mostly_healthy", [4]uint32{1, 0, 0, 0})
	step(reportHTTPFailure, "mostly_healthy", [4]uint32{0, 1, 0, 0})
	step(reportHTTPFailure, "mostly_healthy", [4]uint32{0, 2, 0, 0})
	step(reportHTTPFailure, "unhealthy", [4]uint32{0, 3, 0, 0})
	step(reportTimeout, "unhealthy", [4]uint32{0, 3, 0, 0})
	step(reportSuccess, "mostly_unhealthy", [4]uint32{1, 0, 0, 0})
	step(reportTimeout, "mostly_unhealthy", [4]uint32{0, 0, 0, 1})
	step(reportSuccess, "mostly_unhealthy", [4]uint32{1, 0, 0, 0})
	step(reportSuccess, "healthy", [4]uint32{2, 0, 0, 0})
	step(reportSuccess, "healthy", [4]uint32{2, 0, 0, 0})

	// Passive reports: statuses by the passive sets, others not counted.
	v.ReportStatus(1, 500)
	v.ReportStatus(1, 404)
	v.ReportStatus(1, 500)
	if s := stateNames[v.nodes[1].state.Load()]; s != "mostly_healthy" || v.nodes[1].httpFail != 2 {
		t.Fatalf("node 1 after two 500s: %s, %d http failures", s, v.nodes[1].httpFail)
	}
	v.ReportStatus(1, 500)
	if !v.Down(1) {
		t.Fatal("node 1 not down after three 500s")
	}
	v.ReportFailure(1, false)
	v.ReportStatus(1, 200)
	v.ReportSuccess(1)
	if v.Down(1) {
		t.Fatal("node 1 still down after two successes")
	}
	var nilView *UpstreamHealth
	nilView.ReportStatus(0, 500) // no checks: nothing happens
	nilView.ReportFailure(0, true)
}

// A node marked down is not picked, by any balancer, also at index 64 and
// above; a lower priority group takes over only when the whole group above
// is down; with every node down they are tried anyway, or not at all.
func TestBalancerSkipsDownNodes(t *testing.T) {
	for _, kind := range []BalanceKind{BalanceRoundRobin, BalanceCHash, BalanceEWMA, BalanceLeastConn} {
		t.Run(fmt.Sprint(kind), func(t *testing.T) {
			addrs, weights, prios := testNodes(200)
			for i := range prios {
				prios[i] = map[bool]int{true: 1}[i < 150] // 0..149 on top, 150..199 below
			}
			b := NewBalancer(kind, addrs, weights, prios, 1)
			c := testChecker(b, addrs)
			down := map[int]bool{}
			for _, i := range []int{0, 3, 63, 64, 65, 100, 127, 128, 149} {
				c.force(i, stateUnhealthy)
				down[i] = true
			}
			c.force(5, stateMostlyHealthy) // still picked
			seen := map[int]bool{}
			for k := range 20000 {
				n := b.Pick(0, fmt.Appendf(nil, "k%d", k), 0)
				if down[n] || n >= 150 || n < 0 {
					t.Fatalf("picked %d", n)
				}
				seen[n] = true
				b.Done(0, n, time.Millisecond, false)
			}
			if !seen[5] {
				t.Error("a mostly_healthy node was never picked")
			}
			if n := b.Pick(0, []byte("x"), 1<<1|1<<2); n == 1 || n == 2 || down[n] {
				t.Errorf("with 1 and 2 tried, picked %d", n)
			}
			// The top group all down: the lower one takes over.
			for i := range 150 {
				c.force(i, stateUnhealthy)
			}
			for k := range 1000 {
				n := b.Pick(0, fmt.Appendf(nil, "k%d", k), 0)
				if n < 150 {
					t.Fatalf("top group down, picked %d", n)
				}
				b.Done(0, n, time.Millisecond, false)
			}
			// Everything down: tried anyway (top group first), or refused.
			for i := 150; i < 200; i++ {
				c.force(i, stateMostlyUnhealthy)
			}
			if n := b.Pick(0, []byte("x"), 0); n < 0 || n >= 150 {
				t.Errorf("all down, policy try: picked %d", n)
			} else {
				b.Done(0, n, time.Millisecond, false)
			}
			b.failDown = true
			if n := b.Pick(0, []byte("x"), 0); n != -1 {
				t.Errorf("all down, policy fail: picked %d", n)
			}
			c.force(199, stateHealthy)
			if n := b.Pick(0, []byte("x"), 0); n != 199 {
				t.Errorf("one node back: picked %d", n)
			}
		})
	}
}

// statusOf finds a node's state in the registry.
func statusOf(h *Health, key, addr string) (NodeStatus, bool) {
	for _, cs := range h.Status(key) {
		for _, n := range cs.Nodes {
			if netip.AddrPortFrom(netip.MustParseAddr(n.IP), uint16(n.Port)).String() == addr {
				return n, true
			}
		}
	}
	return NodeStatus{}, false
}

func waitStatus(t *testing.T, h *Health, key, addr, want string) NodeStatus {
	t.Helper()
	var n NodeStatus
	waitFor(t, fmt.Sprintf("%s %s to be %s", key, addr, want), func() bool {
		n, _ = statusOf(h, key, addr)
		return n.Status == want
	})
	return n
}

// statusServer is a real HTTP server answering probes with *code.
type statusServer struct {
	addr string
	code atomic.Int32
	hits atomic.Int64
	srv  *http.Server
	host atomic.Value // Host, path and X-Probe of the last request
}

func newStatusServer(t *testing.T, addr string, code int) *statusServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &statusServer{addr: ln.Addr().String()}
	s.code.Store(int32(code))
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.host.Store(r.Host + " " + r.URL.Path + " " + r.Header.Get("X-Probe"))
		w.WriteHeader(int(s.code.Load()))
	})}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func startHealth(t *testing.T, cfg, routes string) (*Store, *Group) {
	t.Helper()
	snap, err := loadRoutes(t, cfg, routes)
	if err != nil {
		t.Fatal(err)
	}
	store := &Store{}
	if err := store.Publish(snap); err != nil {
		t.Fatal(err)
	}
	g, err := NewGroup(2, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	t.Cleanup(g.Stop)
	store.Health().Start(g)
	return store, g
}

// Active http probes on the loops: a node answering an unhealthy status,
// or refusing, goes down after its threshold and comes back after its
// successes; a tcp probe only connects. Probes carry path, host and
// headers as configured.
func TestActiveChecks(t *testing.T) {
	a := newStatusServer(t, "127.0.0.1:0", 200)
	b := newStatusServer(t, "127.0.0.1:0", 200)
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcpLn.Close()
	go func() {
		for {
			c, err := tcpLn.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	routes := fmt.Sprintf(`
upstreams:
  - id: web
    nodes: {%q: 1, %q: 1}
    checks:
      active:
        http_path: /status
        host: probe.example
        req_headers: ["X-Probe: yes"]
        healthy: {interval: 0.05, successes: 2}
        unhealthy: {interval: 0.05, http_failures: 2, tcp_failures: 2}
  - id: raw
    nodes: {%q: 1}
    checks: {active: {type: tcp, healthy: {interval: 0.05}, unhealthy: {interval: 0.05}}}
services:
  - id: svc
    upstream: {nodes: {%q: 1}, checks: {active: {type: tcp}}}
`, a.addr, b.addr, tcpLn.Addr().String(), tcpLn.Addr().String())
	store, _ := startHealth(t, streamCfg, routes)
	h := store.Health()
	waitFor(t, "probes", func() bool { return a.hits.Load() >= 3 && b.hits.Load() >= 3 })
	if got := a.host.Load().(string); got != "probe.example /status yes" {
		t.Errorf("probe host, path and header: %q", got)
	}
	waitStatus(t, h, "upstreams/raw", tcpLn.Addr().String(), "healthy")
	waitStatus(t, h, "services/svc", tcpLn.Addr().String(), "healthy")

	b.code.Store(503)
	start := time.Now()
	n := waitStatus(t, h, "upstreams/web", b.addr, "unhealthy")
	t.Logf("503s: unhealthy after %v (interval 50 ms), counter %+v", time.Since(start), n.Counter)
	if n.Counter.HTTPFailure != 2 {
		t.Errorf("http_failure %d at the flip, want the threshold 2", n.Counter.HTTPFailure)
	}
	us := store.Load().Upstreams["web"]
	if !us.Health().Down(1) || us.Health().Down(0) {
		t.Errorf("view: down %v %v", us.Health().Down(0), us.Health().Down(1))
	}
	for range 100 {
		if n := us.Nodes().Bal.Pick(0, nil, 0); n != 0 {
			t.Fatalf("picked the unhealthy node %d", n)
		}
	}
	b.code.Store(200)
	waitStatus(t, h, "upstreams/web", b.addr, "healthy")

	// Killed: refused connections are tcp failures.
	a.srv.Close()
	start = time.Now()
	n = waitStatus(t, h, "upstreams/web", a.addr, "unhealthy")
	t.Logf("killed: unhealthy after %v, counter %+v", time.Since(start), n.Counter)
	if n.Counter.TCPFailure != 2 {
		t.Errorf("tcp_failure %d at the flip, want the threshold 2", n.Counter.TCPFailure)
	}
	newStatusServer(t, a.addr, 200)
	waitStatus(t, h, "upstreams/web", a.addr, "healthy")
}

// A probe that gets no answer in time is a timeout.
func TestActiveCheckTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 1000)
	defer func() {
		ln.Close()
		for len(held) > 0 {
			(<-held).Close()
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case held <- c: // accepted, never answered
			default:
				c.Close()
			}
		}
	}()
	routes := fmt.Sprintf("upstreams:\n  - {id: u, nodes: {%q: 1}, checks: {active: {timeout: 0.05, healthy: {interval: 0.05}, unhealthy: {interval: 0.05, timeouts: 2}}}}\n", ln.Addr().String())
	store, _ := startHealth(t, streamCfg, routes)
	n := waitStatus(t, store.Health(), "upstreams/u", ln.Addr().String(), "unhealthy")
	if n.Counter.TimeoutFailure != 2 {
		t.Errorf("counter %+v, want 2 timeouts", n.Counter)
	}
}

// Health is kept by (upstream, node) across snapshots: a change elsewhere in
// the config resets nothing, a node added starts healthy beside the others,
// and a checker whose upstream is gone stops probing.
func TestHealthSurvivesRebuild(t *testing.T) {
	a := newStatusServer(t, "127.0.0.1:0", 500)
	b := newStatusServer(t, "127.0.0.1:0", 200)
	c := newStatusServer(t, "127.0.0.1:0", 200)
	checks := "checks: {active: {healthy: {interval: 0.05}, unhealthy: {interval: 0.05, http_failures: 1}}}"
	routes := func(extra string, nodes ...string) string {
		ns := []string{}
		for _, n := range nodes {
			ns = append(ns, fmt.Sprintf("%q: 1", n))
		}
		return fmt.Sprintf("upstreams:\n  - {id: web, nodes: {%s}, %s}\nroutes:\n  - {id: r1, uri: /a, upstream_id: web}\n  - {id: inline, uri: /b, upstream: {nodes: {%q: 1}, %s}}\n%s",
			strings.Join(ns, ", "), checks, c.addr, checks, extra)
	}
	store, _ := startHealth(t, streamCfg, routes("", a.addr, b.addr))
	h := store.Health()
	waitStatus(t, h, "upstreams/web", a.addr, "unhealthy")
	waitStatus(t, h, "routes/inline", c.addr, "healthy")
	before, _ := statusOf(h, "upstreams/web", a.addr)

	// Another route added: same checker, same state, from the first look.
	snap, err := loadRoutes(t, streamCfg, routes("  - {id: r2, uri: /c, upstream_id: web}\n", a.addr, b.addr))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Publish(snap); err != nil {
		t.Fatal(err)
	}
	if n, _ := statusOf(h, "upstreams/web", a.addr); n.Status != "unhealthy" || n.Counter.HTTPFailure < before.Counter.HTTPFailure {
		t.Fatalf("after an unrelated change: %+v, before %+v", n, before)
	}
	if !snap.Upstreams["web"].Health().Down(0) || snap.Upstreams["web"].Nodes().Bal.Pick(0, nil, 0) != 1 {
		t.Fatal("the new snapshot's view lost the down node")
	}

	// An incremental build that reuses the compiled upstream (the etcd
	// provider does, for unchanged resources) keeps its view, while loops
	// pick from it (the race detector watches).
	web := snap.Upstreams["web"]
	view := web.Health()
	stop := make(chan struct{})
	picked := make(chan struct{})
	go func() {
		defer close(picked)
		for {
			select {
			case <-stop:
				return
			default:
				web.Nodes().Bal.Pick(1, nil, 0)
			}
		}
	}()
	var res Resources
	d, err := decodeBytes("routes.yaml", []byte(routes("", a.addr, b.addr)), &res)
	if err != nil {
		t.Fatal(err)
	}
	d.reuse = map[string]*UpstreamSet{"upstreams/web": web}
	again, err := build(&Config{}, &res, d, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Publish(again); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-picked
	if again.Upstreams["web"] != web || web.Health() != view || !view.Down(0) {
		t.Fatal("a reused upstream lost its view")
	}

	// A node added (and the order changed): the old ones keep their state.
	snap, err = loadRoutes(t, streamCfg, routes("", c.addr, b.addr, a.addr))
	if err != nil {
		t.Fatal(err)
	}
	store.Publish(snap)
	if n, _ := statusOf(h, "upstreams/web", a.addr); n.Status != "unhealthy" {
		t.Fatalf("after a node was added: %+v", n)
	}
	if v := snap.Upstreams["web"].Health(); !v.Down(2) || v.Down(0) || v.Down(1) {
		t.Fatal("view indexes do not follow the new node order")
	}

	// The inline upstream's route removed: its checker stops probing.
	snap, err = loadRoutes(t, streamCfg, fmt.Sprintf("upstreams:\n  - {id: web, nodes: {%q: 1}, %s}\nroutes:\n  - {id: r1, uri: /a, upstream_id: web}\n", b.addr, checks))
	if err != nil {
		t.Fatal(err)
	}
	store.Publish(snap)
	if len(h.Status("routes/inline")) != 0 || len(h.Status("upstreams/web")[0].Nodes) != 1 {
		t.Fatalf("checkers after removal: %+v", h.Status(""))
	}
	time.Sleep(100 * time.Millisecond) // a probe already in flight may land
	hitsA, hitsC := a.hits.Load(), c.hits.Load()
	time.Sleep(300 * time.Millisecond)
	if a.hits.Load() != hitsA || c.hits.Load() != hitsC {
		t.Errorf("removed nodes still probed: a %d→%d, c %d→%d", hitsA, a.hits.Load(), hitsC, c.hits.Load())
	}
}

// Checks cost timers, not goroutines: 300 nodes checked add no goroutine,
// and each node holds one timer on its checker's loop (two while its probe
// is in flight).
func TestHealthNoGoroutinePerNode(t *testing.T) {
	var nodes []string
	seen := map[string]bool{}
	for len(nodes) < 300 {
		if a := testnet.RefusedAddr(t); !seen[a] { // ports may come round again
			seen[a] = true
			nodes = append(nodes, fmt.Sprintf("%q: 1", a))
		}
	}
	routes := fmt.Sprintf("upstreams:\n  - {id: many, nodes: {%s}, checks: {active: {type: tcp, healthy: {interval: 0.05}, unhealthy: {interval: 0.05}}}}\n", strings.Join(nodes, ", "))
	snap, err := loadRoutes(t, streamCfg, routes)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGroup(1, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	defer g.Stop()
	before := runtime.NumGoroutine()
	var timers0 int
	g.Each(func(l *Loop) { timers0 = l.wheel.n })
	store := &Store{}
	store.Health().Start(g)
	store.Publish(snap)
	h := store.Health()
	waitFor(t, "every node probed down", func() bool {
		st := h.Status("upstreams/many")
		if len(st) == 0 || len(st[0].Nodes) != 300 {
			return false
		}
		for _, n := range st[0].Nodes {
			if n.Status != "unhealthy" {
				return false
			}
		}
		return true
	})
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines %d → %d with 300 nodes checked", before, after)
	}
	var timers int
	g.Each(func(l *Loop) { timers = l.wheel.n - timers0 })
	// At most one timer per node (its next probe) plus the probes in
	// flight; fewer while probes are between timers, which a loaded
	// machine shows.
	if timers > 300+10 {
		t.Errorf("%d timers on the loop for 300 nodes (concurrency 10)", timers)
	}
}
