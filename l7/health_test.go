package l7

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/core"
)

// healthProxy runs the proxy with health checks on its loops.
type healthProxy struct {
	url   string
	store *core.Store
}

func startHealthProxy(t *testing.T, config, routes string) *healthProxy {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("config: {provider: yaml}\nlisten: {http: [\"127.0.0.1:0\"]}\n"+config), 0o644)
	os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(routes), 0o644)
	cfg, err := core.LoadConfig(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := core.LoadResources(cfg, filepath.Join(dir, "routes.yaml"), cfg.WorkerCount())
	if err != nil {
		t.Fatal(err)
	}
	store := &core.Store{Compile: []func(*core.Snapshot) error{Compile}}
	if err := store.Publish(snap); err != nil {
		t.Fatal(err)
	}
	g, err := core.NewGroup(cfg.WorkerCount(), cfg.Stream.BufferSize)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(g, store, cfg.Listen.HTTP, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	t.Cleanup(g.Stop)
	store.Health().Start(g)
	return &healthProxy{url: "http://" + s.Addrs[0].String(), store: store}
}

// node is a real upstream server that can be killed and brought back on the
// same address.
type node struct {
	t      *testing.T
	addr   string
	served atomic.Int64 // requests other than probes
	mu     sync.Mutex
	srv    *http.Server
	h      http.HandlerFunc
}

func newNode(t *testing.T, h http.HandlerFunc) *node {
	n := &node{t: t, addr: "127.0.0.1:0", h: h}
	n.start()
	t.Cleanup(n.kill)
	return n
}

func (n *node) start() {
	ln, err := net.Listen("tcp", n.addr)
	if err != nil {
		n.t.Fatal(err)
	}
	n.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" { // traffic, not probes
			n.served.Add(1)
		}
		if n.h != nil {
			n.h(w, r)
			return
		}
		io.WriteString(w, "ok")
	})}
	n.mu.Lock()
	n.srv = srv
	n.mu.Unlock()
	go srv.Serve(ln)
}

// kill closes the listener and every connection, as a crashed server's
// kernel would.
func (n *node) kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv != nil {
		n.srv.Close()
		n.srv = nil
	}
}

func nodeState(p *healthProxy, key, addr string) core.NodeStatus {
	for _, cs := range p.store.Health().Status(key) {
		for _, n := range cs.Nodes {
			if net.JoinHostPort(n.IP, fmt.Sprint(n.Port)) == addr {
				return n
			}
		}
	}
	return core.NodeStatus{}
}

func waitState(t *testing.T, p *healthProxy, key, addr, want string) time.Duration {
	t.Helper()
	start := time.Now()
	for nodeState(p, key, addr).Status != want {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%s %s: %+v, want %s", key, addr, nodeState(p, key, addr), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// The "done when": several real upstream servers, retries 1, GETs
// in a loop from several clients while one node is killed and later comes
// back. Not one answer is anything but 200; the dead node leaves the
// rotation (by active checks, 100 ms apart), and takes traffic again once
// it answers.
func TestHealthKillUnderLoad(t *testing.T) {
	nodes := []*node{newNode(t, nil), newNode(t, nil), newNode(t, nil)}
	p := startHealthProxy(t, "workers: 2\n", fmt.Sprintf(`
upstreams:
  - id: web
    retries: 1
    nodes: {%q: 1, %q: 1, %q: 1}
    checks:
      active:
        http_path: /healthz
        healthy: {interval: 0.1, successes: 1}
        unhealthy: {interval: 0.1, tcp_failures: 2}
      passive:
        unhealthy: {tcp_failures: 2}
routes:
  - {id: all, uri: "/*", upstream_id: web}
`, nodes[0].addr, nodes[1].addr, nodes[2].addr))
	var ok, bad, errs atomic.Int64
	var firstBad atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(p.url + "/x")
				if err != nil {
					errs.Add(1)
					firstBad.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && string(body) == "ok" {
					ok.Add(1)
				} else {
					bad.Add(1)
					firstBad.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, body))
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	victim := nodes[1]
	victim.kill()
	ejected := waitState(t, p, "upstreams/web", victim.addr, "unhealthy")
	t.Logf("killed node ejected after %v (interval 100 ms, tcp_failures 2)", ejected)
	time.Sleep(500 * time.Millisecond)
	served := victim.served.Load()
	victim.start()
	back := waitState(t, p, "upstreams/web", victim.addr, "healthy")
	t.Logf("restarted node healthy after %v", back)
	deadline := time.Now().Add(10 * time.Second)
	for victim.served.Load() < served+20 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d requests: %d ok, %d non-200, %d client errors", ok.Load()+bad.Load()+errs.Load(), ok.Load(), bad.Load(), errs.Load())
	if bad.Load() != 0 || errs.Load() != 0 {
		t.Errorf("%d non-200 answers and %d errors across the kill (first: %v)", bad.Load(), errs.Load(), firstBad.Load())
	}
	if ok.Load() < 100 {
		t.Errorf("only %d requests went through", ok.Load())
	}
	if victim.served.Load() < served+20 {
		t.Errorf("the node back up served %d requests", victim.served.Load()-served)
	}
}

// Passive checks: a node answering 500 to traffic is ejected after
// passive.unhealthy.http_failures of them, and the rest of the traffic goes
// to the healthy node. (The probes' 200 is made to count for nothing, so
// that a probe success landing among the 500s cannot clear their count.)
func TestPassiveEjectsOn500(t *testing.T) {
	sick := newNode(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		w.WriteHeader(500)
	})
	well := newNode(t, nil)
	p := startHealthProxy(t, "workers: 2\n", fmt.Sprintf(`
upstreams:
  - id: web
    retries: 0
    nodes: {%q: 1, %q: 1}
    checks:
      active: {http_path: /healthz, healthy: {interval: 3600, http_statuses: [201]}, unhealthy: {interval: 3600}}
      passive: {unhealthy: {http_statuses: [500], http_failures: 3}}
routes:
  - {id: all, uri: "/*", upstream_id: web}
`, sick.addr, well.addr))
	c := client()
	codes := map[int]int{}
	for range 60 {
		code, _, _ := get(t, c, p.url+"/x")
		codes[code]++
	}
	if codes[500] != 3 || codes[200] != 57 {
		t.Errorf("answers %v: want exactly three 500s, then only the healthy node", codes)
	}
	if st := nodeState(p, "upstreams/web", sick.addr); st.Status != "unhealthy" || st.Counter.HTTPFailure != 3 {
		t.Errorf("sick node: %+v", st)
	}
}

// When every node is unhealthy, they are tried anyway by default (as
// APISIX), and with upstream.all_unhealthy: fail the answer is a 502 at
// once.
func TestAllUnhealthyPolicy(t *testing.T) {
	probeFails := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, "ok")
	}
	a, b := newNode(t, probeFails), newNode(t, probeFails)
	routes := fmt.Sprintf(`
upstreams:
  - id: web
    nodes: {%q: 1, %q: 1}
    checks: {active: {http_path: /healthz, healthy: {interval: 0.05}, unhealthy: {interval: 0.05, http_failures: 1}}}
routes:
  - {id: all, uri: "/*", upstream_id: web}
`, a.addr, b.addr)
	for _, tc := range []struct {
		config string
		code   int
		served bool
	}{{"", 200, true}, {"upstream: {all_unhealthy: try}\n", 200, true}, {"upstream: {all_unhealthy: fail}\n", 502, false}} {
		t.Run(strings.TrimSpace(tc.config), func(t *testing.T) {
			p := startHealthProxy(t, tc.config, routes)
			waitState(t, p, "upstreams/web", a.addr, "unhealthy")
			waitState(t, p, "upstreams/web", b.addr, "unhealthy")
			before := a.served.Load() + b.served.Load()
			code, body, _ := get(t, client(), p.url+"/x")
			if code != tc.code {
				t.Errorf("all nodes down: %d %q, want %d", code, body, tc.code)
			}
			if served := a.served.Load()+b.served.Load() > before; served != tc.served {
				t.Errorf("a node saw the request: %v, want %v", served, tc.served)
			}
		})
	}
}
