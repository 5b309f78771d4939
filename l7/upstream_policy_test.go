package l7

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/testnet"
)

// connCounts are what an upstream saw of the proxy's connections: those
// that carried a request for the test's path prefix. On a machine shared
// with other tests, another process may connect to a port it once used (a
// health checker probing a node it killed); those are not counted.
type connCounts struct {
	mu             sync.Mutex
	ours           map[net.Conn]bool
	opened, closed int64
}

func (c *connCounts) get() (opened, closed int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opened, c.closed
}

// open is how many of the proxy's connections the upstream still holds.
func (c *connCounts) open() int64 { o, cl := c.get(); return o - cl }

type connKey struct{}

// testPrefix is a path prefix no other test uses.
func testPrefix(t *testing.T) string {
	return fmt.Sprintf("/t%d-%s", time.Now().UnixNano(), strings.NewReplacer("/", "-").Replace(t.Name()))
}

// countingUpstream is a net/http server that counts connections opened and
// closed (as the server sees them: a close is the proxy's FIN) among those
// that asked for a path under prefix.
func countingUpstream(t *testing.T, prefix string, h http.HandlerFunc) (string, *connCounts) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cc := &connCounts{ours: map[net.Conn]bool{}}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, prefix) {
				http.NotFound(w, r)
				return
			}
			c := r.Context().Value(connKey{}).(net.Conn)
			cc.mu.Lock()
			if !cc.ours[c] {
				cc.ours[c] = true
				cc.opened++
			}
			cc.mu.Unlock()
			h(w, r)
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateClosed || s == http.StateHijacked {
				cc.mu.Lock()
				if cc.ours[c] {
					cc.closed++
				}
				cc.mu.Unlock()
			}
		},
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), cc
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("still waiting for %s after 5 s", what)
}

// keepalive_pool.requests: a connection that has served N requests is
// closed, so 7 sequential requests need ceil(7/3) = 3 connections.
func TestKeepalivePoolRequestsCap(t *testing.T) {
	pre := testPrefix(t)
	up, cc := countingUpstream(t, pre, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	p := startProxy(t, fmt.Sprintf("routes:\n  - {id: r, uri: /*, upstream: {nodes: {%q: 1}, keepalive_pool: {requests: 3}}}\n", up), DefaultOptions())
	c := client()
	for i := range 7 {
		if code, body, _ := get(t, c, p.url+pre); code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if n, _ := cc.get(); n != 3 {
		t.Fatalf("7 requests with keepalive_pool.requests 3 opened %d upstream connections, want 3", n)
	}
	waitFor(t, "the two used-up connections to close", func() bool { _, cl := cc.get(); return cl == 2 })
}

// keepalive_pool.idle_timeout closes a pooled connection left unused that
// long; another upstream's longer idle_timeout keeps its connection, which
// the next request reuses.
func TestKeepalivePoolIdleTimeout(t *testing.T) {
	pre := testPrefix(t)
	ok := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }
	short, sc := countingUpstream(t, pre, ok)
	long, lc := countingUpstream(t, pre, ok)
	p := startProxy(t, fmt.Sprintf(`routes:
  - {id: s, uri: %s/short, upstream: {nodes: {%q: 1}, keepalive_pool: {idle_timeout: 0.3}}}
  - {id: l, uri: %s/long, upstream: {nodes: {%q: 1}, keepalive_pool: {idle_timeout: 60}}}
`, pre, short, pre, long), DefaultOptions())
	c := client()
	for _, path := range []string{"/short", "/long"} {
		if code, _, _ := get(t, c, p.url+pre+path); code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
	}
	waitFor(t, "the idle connection to /short's node to close", func() bool { _, cl := sc.get(); return cl == 1 })
	if lc.open() != 1 {
		t.Fatalf("the connection with a 60 s idle timeout closed too (open %d)", lc.open())
	}
	if code, _, _ := get(t, c, p.url+pre+"/long"); code != 200 {
		t.Fatalf("second /long: %d", code)
	}
	if n, _ := lc.get(); n != 1 {
		t.Fatalf("second /long opened connection %d (want the pooled one reused)", n)
	}
	if code, _, _ := get(t, c, p.url+pre+"/short"); code != 200 {
		t.Fatalf("second /short: %d", code)
	}
	if n, _ := sc.get(); n != 2 {
		t.Fatalf("second /short: %d upstream connections in all (want a new one)", n)
	}
}

// keepalive_pool.size bounds a loop's idle connections to a node: after 5
// concurrent requests, 2 connections stay pooled and 3 are closed, and the
// next 5 concurrent requests reuse the 2.
func TestKeepalivePoolSizeBoundsPool(t *testing.T) {
	const n = 5
	var mu sync.Mutex
	var waiting int
	release := make(chan struct{})
	pre := testPrefix(t)
	up, cc := countingUpstream(t, pre, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ch := release
		if waiting++; waiting == n {
			close(release) // all five are in flight at once: five connections
			release = make(chan struct{})
			waiting = 0
		}
		mu.Unlock()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, "ok")
	})
	p := startProxy(t, fmt.Sprintf("routes:\n  - {id: r, uri: /*, upstream: {nodes: {%q: 1}, keepalive_pool: {size: 2}}}\n", up), DefaultOptions())
	burst := func() {
		t.Helper()
		var wg sync.WaitGroup
		codes := make(chan int, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// A client of its own each: five client connections.
				resp, err := client().Get(p.url + pre)
				if err != nil {
					codes <- 0
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes <- resp.StatusCode
			}()
		}
		wg.Wait()
		close(codes)
		for code := range codes {
			if code != 200 {
				t.Fatalf("got %d", code)
			}
		}
	}
	burst()
	if got, _ := cc.get(); got != n {
		t.Fatalf("%d concurrent requests opened %d upstream connections", n, got)
	}
	waitFor(t, "3 of the 5 connections to close", func() bool { _, cl := cc.get(); return cl == 3 })
	burst()
	if got, _ := cc.get(); got != n+3 {
		t.Fatalf("second burst: %d connections opened in all, want %d (2 pooled ones reused)", got, n+3)
	}
}

// silentNode accepts connections, reads what it is sent and never answers;
// it counts the connections that carried marker (see connCounts).
func silentNode(t *testing.T, marker string) (string, *atomic.Int64) {
	var n atomic.Int64
	addr := testnet.Serve(t, func(c *net.TCPConn) {
		if readUntil(c, marker) {
			n.Add(1)
		}
		io.Copy(io.Discard, c)
	})
	return addr, &n
}

// readUntil reads c until marker has arrived (true) or the connection ends.
func readUntil(c net.Conn, marker string) bool {
	buf := make([]byte, 4096)
	got := ""
	for !strings.Contains(got, marker) {
		k, err := c.Read(buf)
		if err != nil {
			return false
		}
		got += string(buf[:k])
	}
	return true
}

// A node that accepts and never answers gets a 504 at the configured read
// timeout (a check of the configured value, with a second's slack for a
// loaded machine).
func TestReadTimeout504AtConfiguredTimeout(t *testing.T) {
	node, _ := silentNode(t, "GET")
	p := startProxy(t, fmt.Sprintf("routes:\n  - {id: r, uri: /*, upstream: {nodes: {%q: 1}, timeout: {read: 0.5}}}\n", node), DefaultOptions())
	start := time.Now()
	code, body, _ := get(t, client(), p.url+"/x")
	took := time.Since(start)
	if code != 504 || !strings.Contains(body, "504") {
		t.Fatalf("got %d %q, want 504", code, body)
	}
	if took < 500*time.Millisecond || took > 1500*time.Millisecond {
		t.Fatalf("504 after %v with timeout.read 0.5 s", took)
	}
}

// retry_timeout ends retries: with three silent nodes and a 0.4 s read
// timeout, a GET tries all three without it, and stops after the second
// when 0.6 s have passed since the first attempt.
func TestRetryTimeoutStopsRetries(t *testing.T) {
	pre := testPrefix(t)
	nodes := func() (string, []*atomic.Int64) {
		var list []string
		var counts []*atomic.Int64
		for range 3 {
			a, n := silentNode(t, pre)
			list = append(list, fmt.Sprintf("%q: 1", a))
			counts = append(counts, n)
		}
		return "{" + strings.Join(list, ", ") + "}", counts
	}
	sum := func(cs []*atomic.Int64) (s int64) {
		for _, c := range cs {
			s += c.Load()
		}
		return s
	}
	unbounded, uc := nodes()
	bounded, bc := nodes()
	p := startProxy(t, fmt.Sprintf(`routes:
  - {id: u, uri: %s/unbounded, upstream: {nodes: %s, retries: 2, timeout: {read: 0.4}}}
  - {id: b, uri: %s/bounded, upstream: {nodes: %s, retries: 2, retry_timeout: 0.6, timeout: {read: 0.4}}}
`, pre, unbounded, pre, bounded), DefaultOptions())
	for _, tc := range []struct {
		path   string
		counts []*atomic.Int64
		want   int64
	}{{"/unbounded", uc, 3}, {"/bounded", bc, 2}} {
		if code, _, _ := get(t, client(), p.url+pre+tc.path); code != 504 {
			t.Fatalf("%s: %d, want 504", tc.path, code)
		}
		if got := sum(tc.counts); got != tc.want {
			t.Errorf("%s: %d nodes tried, want %d", tc.path, got, tc.want)
		}
	}
}

// A POST whose body reached a node is never sent to another one, whether
// the node then times out or drops the connection; a GET in the same place
// is retried.
func TestRequestWithBodyIsNotResent(t *testing.T) {
	pre := testPrefix(t)
	payload := pre + "-payload"
	dropping := func(*testing.T, string) (string, *atomic.Int64) {
		var n atomic.Int64
		addr := testnet.Serve(t, func(c *net.TCPConn) {
			if readUntil(c, payload) {
				n.Add(1)
				c.SetLinger(0) // a reset, as a crashing node would send
			}
		})
		return addr, &n
	}
	type pair struct {
		yaml string
		a, b *atomic.Int64
	}
	mk := func(node func(*testing.T, string) (string, *atomic.Int64)) pair {
		a, an := node(t, payload)
		b, bn := node(t, payload)
		return pair{fmt.Sprintf("{%q: 1, %q: 1}", a, b), an, bn}
	}
	silent := mk(silentNode)
	silentGet := mk(silentNode)
	drop := mk(dropping)
	dropGet := mk(dropping)
	p := startProxy(t, fmt.Sprintf(`routes:
  - {id: s, uri: /silent, methods: [POST], upstream: {nodes: %s, retries: 1, timeout: {read: 0.3}}}
  - {id: sg, uri: /silent-get, upstream: {nodes: %s, retries: 1, timeout: {read: 0.3}}}
  - {id: d, uri: /drop, methods: [POST], upstream: {nodes: %s, retries: 1}}
  - {id: dg, uri: /drop-get, upstream: {nodes: %s, retries: 1}}
`, silent.yaml, silentGet.yaml, drop.yaml, dropGet.yaml), DefaultOptions())
	for _, tc := range []struct {
		method, path string
		nodes        pair
		code         int
		tried        int64
	}{
		{"POST", "/silent", silent, 504, 1},
		{"GET", "/silent-get", silentGet, 504, 2},
		{"POST", "/drop", drop, 502, 1},
		{"GET", "/drop-get", dropGet, 502, 2},
	} {
		// The marker the nodes wait for: the POST's body, the GET's query.
		var body io.Reader
		url := p.url + tc.path + "?" + payload
		if tc.method == "POST" {
			body, url = strings.NewReader(payload), p.url+tc.path
		}
		req, _ := http.NewRequest(tc.method, url, body)
		resp, err := client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		tried := tc.nodes.a.Load() + tc.nodes.b.Load()
		if resp.StatusCode != tc.code || tried != tc.tried {
			t.Errorf("%s %s: %d after trying %d nodes; want %d after %d", tc.method, tc.path, resp.StatusCode, tried, tc.code, tc.tried)
		}
	}
}
