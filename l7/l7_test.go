package l7

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/internal/testnet"
)

func TestMain(m *testing.M) {
	core.SetLogLevel("error")
	os.Exit(m.Run())
}

// The end-to-end tests run over both transports: the reactor's own sockets,
// and a standard-library net.Listener feeding the same pipeline (as TLS does).
var e2e = []struct {
	name string
	f    func(*testing.T)
}{
	{"ProxyAndForwardedHeaders", testProxyAndForwardedHeaders},
	{"NotFoundIsAPISIXJSON", testNotFoundIsAPISIXJSON},
	{"KeepAliveReusesUpstream", testKeepAliveReusesUpstream},
	{"PipelinedAnswersInOrder", testPipelinedAnswersInOrder},
	{"ChunkedBothWaysAndBigBodies", testChunkedBothWaysAndBigBodies},
	{"BigDownload", testBigDownload},
	{"HeadAnd204And304HaveNoBody", testHeadAnd204And304HaveNoBody},
	{"MalformedRequestsGet4xxAndClose", testMalformedRequestsGet4xxAndClose},
	{"UpstreamFailures", testUpstreamFailures},
	{"HeadTimeout408", testHeadTimeout408},
	{"WebsocketTunnel", testWebsocketTunnel},
	{"SlowClientBoundsBuffering", testSlowClientBoundsBuffering},
	{"KeepaliveTimeoutCloses", testKeepaliveTimeoutCloses},
	{"Expect100Continue", testExpect100Continue},
	{"ConnectTimeoutAndFailover", testConnectTimeoutAndFailover},
	{"UploadToSlowUpstreamIsBounded", testUploadToSlowUpstreamIsBounded},
	{"PassHost", testPassHost},
	{"RouteTimeoutOverridesUpstream", testRouteTimeoutOverridesUpstream},
}

func TestE2E(t *testing.T) {
	for _, tr := range []string{"reactor", "std"} {
		t.Run(tr, func(t *testing.T) {
			for _, tc := range e2e {
				t.Run(tc.name, tc.f)
			}
		})
	}
}

type proxy struct {
	url   string
	addr  string
	srv   *Server
	group *core.Group
}

// startProxy runs an in-process HTTP proxy with the given routes file,
// compiled by hooks (default: Compile, no plugins).
func startProxy(t testing.TB, routes string, opts Options, hooks ...func(*core.Snapshot) error) *proxy {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("config: {provider: yaml}\nworkers: 1\nlisten: {http: [\"127.0.0.1:0\"]}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(routes), 0o644)
	cfg, err := core.LoadConfig(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := core.LoadResources(cfg, filepath.Join(dir, "routes.yaml"), cfg.WorkerCount())
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) == 0 {
		hooks = append(hooks, Compile)
	}
	store := &core.Store{Compile: hooks}
	if err := store.Publish(snap); err != nil {
		t.Fatal(err)
	}
	g, err := core.NewGroup(cfg.WorkerCount(), cfg.Stream.BufferSize)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(g, store, cfg.Listen.HTTP, opts)
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	t.Cleanup(g.Stop)
	addr := s.Addrs[0].String()
	if strings.Contains(t.Name(), "/std/") {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve(ln)
		t.Cleanup(func() { ln.Close() })
		addr = ln.Addr().String()
	}
	return &proxy{url: "http://" + addr, addr: addr, srv: s, group: g}
}

func catchAll(upstream string) string {
	return fmt.Sprintf("routes:\n  - {id: all, uri: \"/*\", upstream: {nodes: {%q: 1}}}\n", upstream)
}

// httpUpstream runs a real net/http server; conns counts its connections.
func httpUpstream(t testing.TB, h http.HandlerFunc) (addr string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = &atomic.Int64{}
	srv := &http.Server{Handler: h, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), conns
}

func client() *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
}

func get(t *testing.T, c *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func testProxyAndForwardedHeaders(t *testing.T) {
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s xff=%s real=%s proto=%s fhost=%s host=%s conn=%q",
			r.Method, r.URL.RequestURI(), r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Real-IP"),
			r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"), r.Host, r.Header.Get("Connection"))
	})
	p := startProxy(t, catchAll(up), DefaultOptions())
	req, _ := http.NewRequest("GET", p.url+"/a/b?x=1", nil)
	req.Header.Set("X-Forwarded-For", "10.9.8.7")
	req.Header.Set("Connection", "keep-alive, X-Secret")
	req.Header.Set("X-Secret", "hop")
	req.Host = "example.test"
	resp, err := client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `GET /a/b?x=1 xff=10.9.8.7, 127.0.0.1 real=127.0.0.1 proto=http fhost=example.test host=example.test conn=""`
	if resp.StatusCode != 200 || string(b) != want {
		t.Fatalf("got %d %q\nwant %q", resp.StatusCode, b, want)
	}
}

func testNotFoundIsAPISIXJSON(t *testing.T) {
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	p := startProxy(t, fmt.Sprintf("routes:\n  - {id: h, uri: /hello, methods: [GET], upstream: {nodes: {%q: 1}}}\n", up), DefaultOptions())
	code, body, h := get(t, client(), p.url+"/nope")
	if code != 404 || strings.TrimSpace(body) != `{"error_msg":"404 Route Not Found"}` || h.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q %v", code, body, h)
	}
	resp, err := client().Post(p.url+"/hello", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("POST to a GET-only route: %d", resp.StatusCode)
	}
}

func testKeepAliveReusesUpstream(t *testing.T) {
	up, conns := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	p := startProxy(t, catchAll(up), DefaultOptions())
	c := client()
	for i := range 200 {
		if code, body, _ := get(t, c, p.url+"/k"); code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if n := conns.Load(); n > 2 {
		t.Fatalf("200 sequential requests opened %d upstream connections", n)
	}
}

func testPipelinedAnswersInOrder(t *testing.T) {
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(50 * time.Millisecond)
		}
		w.Write([]byte(r.URL.Path))
	})
	p := startProxy(t, catchAll(up), DefaultOptions())
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var reqs bytes.Buffer
	paths := []string{"/slow", "/1", "/2", "/slow", "/3"}
	for _, path := range paths {
		fmt.Fprintf(&reqs, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	}
	c.Write(reqs.Bytes()) // all at once
	br := bufio.NewReader(c)
	for _, path := range paths {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != path {
			t.Fatalf("answer %q where %q was due", b, path)
		}
	}
}

func testChunkedBothWaysAndBigBodies(t *testing.T) {
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		if r.URL.Path == "/echo" {
			// Stream back in flushed pieces: a chunked response.
			fl := w.(http.Flusher)
			for i := range 64 {
				fmt.Fprintf(w, "%04d%s", i, strings.Repeat("z", 4000))
				fl.Flush()
			}
			return
		}
		fmt.Fprintf(w, "%d %x %v", n, h.Sum(nil), r.TransferEncoding)
	})
	p := startProxy(t, catchAll(up), DefaultOptions())
	c := client()
	// Chunked upload (unknown length), 8 MiB.
	payload := bytes.Repeat([]byte("0123456789abcdef"), 512<<10)
	sum := sha256.Sum256(payload)
	pr, pw := io.Pipe()
	go func() {
		for off := 0; off < len(payload); off += 100000 {
			pw.Write(payload[off:min(off+100000, len(payload))])
		}
		pw.Close()
	}()
	resp, err := c.Post(p.url+"/up", "application/octet-stream", pr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("%d %x [chunked]", len(payload), sum); string(b) != want {
		t.Fatalf("chunked upload: got %q want %q", b, want)
	}
	// Content-Length upload.
	resp, err = c.Post(p.url+"/up", "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("%d %x []", len(payload), sum); string(b) != want {
		t.Fatalf("length upload: got %q want %q", b, want)
	}
	// Chunked download.
	resp, err = c.Get(p.url + "/echo")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(b) != 64*4004 || !bytes.HasPrefix(b, []byte("0000zz")) || len(resp.TransferEncoding) != 1 {
		t.Fatalf("chunked download: %d bytes, TE %v", len(b), resp.TransferEncoding)
	}
}

func testBigDownload(t *testing.T) {
	payload := bytes.Repeat([]byte("big-body"), 4<<20) // 32 MiB
	sum := sha256.Sum256(payload)
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.Write(payload) })
	p := startProxy(t, catchAll(up), DefaultOptions())
	resp, err := client().Get(p.url + "/big")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, _ := io.Copy(h, resp.Body)
	resp.Body.Close()
	if n != int64(len(payload)) || !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Fatalf("got %d bytes, want %d intact", n, len(payload))
	}
}

func testHeadAnd204And304HaveNoBody(t *testing.T) {
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.WriteHeader(304)
		default:
			w.Header().Set("Content-Length", "5")
			w.Write([]byte("hello"))
		}
	})
	p := startProxy(t, catchAll(up), DefaultOptions())
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for _, tc := range []struct{ method, path string }{{"HEAD", "/h"}, {"GET", "/204"}, {"GET", "/304"}, {"GET", "/after"}} {
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", tc.method, tc.path)
		resp, err := http.ReadResponse(br, &http.Request{Method: tc.method})
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if tc.path == "/after" && string(b) != "hello" {
			t.Fatalf("connection out of step after bodiless answers: %q", b)
		}
	}
}

func rawExchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte(req))
	b, _ := io.ReadAll(c) // until the proxy closes
	return string(b)
}

func testMalformedRequestsGet4xxAndClose(t *testing.T) {
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	p := startProxy(t, catchAll(up), DefaultOptions())
	for _, tc := range []struct{ req, status string }{
		{"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "400"},
		{"GET / HTTP/1.1\r\n\r\n", "400"}, // no Host
		{"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "501"},
		{"GET /" + strings.Repeat("a", 20000) + " HTTP/1.1\r\nHost: x\r\n\r\n", "414"},
		{"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", "400"},
	} {
		got := rawExchange(t, p.addr, tc.req)
		if !strings.HasPrefix(got, "HTTP/1.1 "+tc.status+" ") || !strings.Contains(got, "Connection: close") || !strings.Contains(got, `"error_msg"`) {
			t.Errorf("%q\n→ %q", tc.req[:min(len(tc.req), 60)], got)
		}
	}
}

func testUpstreamFailures(t *testing.T) {
	dead := testnet.RefusedAddr(t)
	silent, _ := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	garbage, _ := net.Listen("tcp", "127.0.0.1:0")
	defer garbage.Close()
	go func() {
		for {
			c, err := garbage.Accept()
			if err != nil {
				return
			}
			go func() {
				c.Read(make([]byte, 4096))
				c.Write([]byte("NOT HTTP AT ALL\r\n\r\n"))
				c.Close()
			}()
		}
	}()
	routes := fmt.Sprintf(`routes:
  - {id: dead, uri: /dead, upstream: {nodes: {%q: 1}}}
  - {id: silent, uri: /silent, upstream: {nodes: {%q: 1}, timeout: {read: 0.3}}}
  - {id: garbage, uri: /garbage, upstream: {nodes: {%q: 1}}}
`, dead, silent.Addr().String(), garbage.Addr().String())
	p := startProxy(t, routes, DefaultOptions())
	for _, tc := range []struct {
		path string
		code int
	}{{"/dead", 502}, {"/silent", 504}, {"/garbage", 502}} {
		start := time.Now()
		code, body, _ := get(t, client(), p.url+tc.path)
		if code != tc.code || !strings.Contains(body, "error_msg") {
			t.Errorf("%s: %d %q, want %d", tc.path, code, body, tc.code)
		}
		if tc.path == "/silent" && time.Since(start) > 3*time.Second {
			t.Errorf("504 took %v with a 0.3 s read timeout", time.Since(start))
		}
	}
}

func testHeadTimeout408(t *testing.T) {
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	opts := DefaultOptions()
	opts.HeadTimeout = 300 * time.Millisecond
	p := startProxy(t, catchAll(up), opts)
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("GET / HTTP/1.1\r\nHo")) // and then nothing
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "HTTP/1.1 408 ") {
		t.Fatalf("got %q", b)
	}
}

func testWebsocketTunnel(t *testing.T) {
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want upgrade", 400)
			return
		}
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nwelcome;")
		brw.Flush()
		io.Copy(c, brw) // echo whatever comes
	})
	p := startProxy(t, fmt.Sprintf("routes:\n  - {id: ws, uri: /ws, enable_websocket: true, upstream: {nodes: {%q: 1}}}\n", up), DefaultOptions())
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	welcome := make([]byte, 8)
	io.ReadFull(br, welcome)
	if string(welcome) != "welcome;" {
		t.Fatalf("bytes sent with the 101: %q", welcome)
	}
	for i := range 10 {
		msg := fmt.Sprintf("frame-%d", i)
		c.Write([]byte(msg))
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Fatalf("echo %q: %q %v", msg, got, err)
		}
	}
}

// A client that stops reading a big response: the proxy holds a bounded
// amount and the upstream's writes stall.
func testSlowClientBoundsBuffering(t *testing.T) {
	var written atomic.Int64
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(1<<30))
		buf := make([]byte, 1<<20)
		for written.Load() < 1<<30 {
			n, err := w.Write(buf)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	p := startProxy(t, catchAll(up), DefaultOptions())
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"))
	last := int64(-1)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		if w := written.Load(); w == last {
			break
		} else {
			last = w
		}
	}
	if w := written.Load(); w > 256<<20 {
		t.Fatalf("upstream wrote %d MiB into a client that reads nothing", w>>20)
	}
	// Reading resumes the flow.
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := io.CopyN(io.Discard, c, 64<<20); err != nil {
		t.Fatalf("after the stall read %d: %v", n, err)
	}
}

func testKeepaliveTimeoutCloses(t *testing.T) {
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	opts := DefaultOptions()
	opts.KeepaliveTimeout = 300 * time.Millisecond
	p := startProxy(t, catchAll(up), opts)
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	start := time.Now()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle keep-alive connection: %v, want EOF", err)
	}
	if el := time.Since(start); el < 200*time.Millisecond || el > 5*time.Second {
		t.Fatalf("closed after %v, want about 300 ms", el)
	}
}

func testExpect100Continue(t *testing.T) {
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body) // reading makes net/http send 100 Continue
		fmt.Fprintf(w, "got %d", len(b))
	})
	p := startProxy(t, catchAll(up), DefaultOptions())
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"))
	br := bufio.NewReader(c)
	line, _ := br.ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("first line %q, want a 100 Continue before sending the body", line)
	}
	br.ReadString('\n') // the empty line
	c.Write([]byte("hello"))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "got 5" {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
}

func testConnectTimeoutAndFailover(t *testing.T) {
	hole := testnet.Blackhole(t)
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("up")) })
	dead := testnet.RefusedAddr(t)
	p := startProxy(t, fmt.Sprintf(`routes:
  - {id: hole, uri: /hole, upstream: {nodes: {%q: 1}, timeout: {connect: 0.2}}}
  - {id: failover, uri: /fo, upstream: {nodes: {%q: 1, %q: 1, %q: 1}, timeout: {connect: 0.2}}}
`, hole, hole, dead, up), DefaultOptions())
	start := time.Now()
	if code, _, _ := get(t, client(), p.url+"/hole"); code != 504 {
		t.Fatalf("unanswered connect: %d, want 504", code)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("504 after %v with a 0.2 s connect timeout", el)
	}
	for i := range 6 {
		if code, body, _ := get(t, client(), p.url+"/fo"); code != 200 || body != "up" {
			t.Fatalf("request %d with one live node of three: %d %q", i, code, body)
		}
	}
}

// An upstream that does not read the request body: the client's upload
// stalls instead of the proxy buffering it, and completes once it reads.
func testUploadToSlowUpstreamIsBounded(t *testing.T) {
	release := make(chan struct{})
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d", n)
	})
	p := startProxy(t, catchAll(up), DefaultOptions())
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const size = 256 << 20
	fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
	var sent atomic.Int64
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 1<<20)
		for sent.Load() < size {
			n, err := c.Write(buf)
			sent.Add(int64(n))
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	last := int64(-1)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		if s := sent.Load(); s == last {
			break
		} else {
			last = s
		}
	}
	if s := sent.Load(); s >= size {
		t.Fatalf("the whole %d MiB upload was absorbed while the upstream read nothing", size>>20)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != fmt.Sprint(size) {
		t.Fatalf("upstream got %q bytes", b)
	}
}

// StopAccepting closes idle keep-alive connections at once and lets a busy
// one finish its answer (with Connection: close).
func TestStopAcceptingDrains(t *testing.T) {
	release := make(chan struct{})
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		w.Write([]byte("done"))
	})
	p := startProxy(t, catchAll(up), DefaultOptions())
	idle, _ := net.Dial("tcp", p.addr)
	defer idle.Close()
	idle.SetDeadline(time.Now().Add(10 * time.Second))
	idle.Write([]byte("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"))
	ibr := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(ibr, nil); err != nil {
		t.Fatal(err)
	} else {
		io.ReadAll(resp.Body)
	}
	busy, _ := net.Dial("tcp", p.addr)
	defer busy.Close()
	busy.SetDeadline(time.Now().Add(10 * time.Second))
	busy.Write([]byte("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"))
	time.Sleep(100 * time.Millisecond)
	p.srv.StopAccepting()
	if _, err := ibr.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection after StopAccepting: %v, want EOF", err)
	}
	close(release)
	bbr := bufio.NewReader(busy)
	resp, err := http.ReadResponse(bbr, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "done" || !resp.Close {
		t.Fatalf("busy request: %q close=%v", b, resp.Close)
	}
	if _, err := bbr.ReadByte(); err != io.EOF {
		t.Fatalf("busy connection after its answer: %v, want EOF", err)
	}
}

// pass_host: pass keeps the client's Host, node sends the node's address,
// rewrite sends upstream_host.
func testPassHost(t *testing.T) {
	up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(r.Host)) })
	p := startProxy(t, fmt.Sprintf(`routes:
  - {id: pass, uri: /pass, upstream: {nodes: {%[1]q: 1}}}
  - {id: node, uri: /node, upstream: {pass_host: node, nodes: {%[1]q: 1}}}
  - {id: rewrite, uri: /rewrite, upstream: {pass_host: rewrite, upstream_host: backend.internal, nodes: {%[1]q: 1}}}
`, up), DefaultOptions())
	for path, want := range map[string]string{"/pass": "client.example", "/node": up, "/rewrite": "backend.internal"} {
		req, _ := http.NewRequest("GET", p.url+path, nil)
		req.Host = "client.example"
		resp, err := client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("%s: upstream saw Host %q, want %q", path, b, want)
		}
	}
}

// A route's timeout overrides its upstream's, field by field.
func testRouteTimeoutOverridesUpstream(t *testing.T) {
	silent, _ := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	p := startProxy(t, fmt.Sprintf(`upstreams:
  - {id: slow, nodes: {%q: 1}, timeout: {read: 30}}
routes:
  - {id: r, uri: /r, upstream_id: slow, timeout: {read: 0.3}}
`, silent.Addr().String()), DefaultOptions())
	start := time.Now()
	code, _, _ := get(t, client(), p.url+"/r")
	if code != 504 || time.Since(start) > 5*time.Second {
		t.Fatalf("got %d after %v; want 504 after the route's 0.3 s read timeout, not the upstream's 30 s", code, time.Since(start))
	}
}
