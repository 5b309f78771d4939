package l4

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/internal/testnet"
)

type proxy struct {
	addr  string
	srv   *Server
	group *core.Group
	store *core.Store
	cfg   *core.Config
	dir   string
}

// startProxy runs an in-process TCP proxy on a loopback port with the given
// routes file (stream routes without server_port match it). extra is added to
// config.yaml.
func startProxy(t *testing.T, routes string, extra string) *proxy {
	t.Helper()
	dir := t.TempDir()
	cfgBody := "config: {provider: yaml}\n" + extra
	if !strings.Contains(extra, "workers:") {
		cfgBody += "workers: 2\n"
	}
	if !strings.Contains(extra, "listen:") {
		cfgBody += "listen: {stream: {tcp: [\"127.0.0.1:0\"]}}\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfgBody), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(routes), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := core.LoadConfig(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := core.LoadResources(cfg, filepath.Join(dir, "routes.yaml"), cfg.WorkerCount())
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{store: &core.Store{DNS: core.NewResolver(cfg)}, cfg: cfg, dir: dir}
	t.Cleanup(p.store.DNS.Close)
	if err := p.store.Publish(snap); err != nil {
		t.Fatal(err)
	}
	p.group, err = core.NewGroup(cfg.WorkerCount(), cfg.Stream.BufferSize)
	if err != nil {
		t.Fatal(err)
	}
	p.srv, err = NewServer(p.group, p.store, cfg.Listen.Stream.TCP)
	if err != nil {
		t.Fatal(err)
	}
	p.group.Start()
	t.Cleanup(p.group.Stop)
	p.addr = p.srv.Addrs[0].String()
	return p
}

func nodes(addrs ...string) string {
	var parts []string
	for _, a := range addrs {
		parts = append(parts, fmt.Sprintf("%q: 1", a))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// upstream runs handle for every connection accepted on a loopback port.
func upstream(t *testing.T, handle func(c *net.TCPConn)) string { return testnet.Serve(t, handle) }

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c.(*net.TCPConn)
}

func echo(c *net.TCPConn) { io.Copy(c, c) }

func TestEcho(t *testing.T) {
	up := upstream(t, echo)
	p := startProxy(t, "stream_routes: [{id: e, upstream: {nodes: "+nodes(up)+"}}]\n", "")
	for range 20 {
		c := dial(t, p.addr)
		msg := []byte("ping\r\n")
		c.Write(msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo: %q %v", got, err)
		}
		c.Close()
	}
}

// The client half-closes first: the upstream sees EOF, still answers, and
// the client reads the answer and then EOF.
func TestHalfCloseFromClient(t *testing.T) {
	up := upstream(t, func(c *net.TCPConn) {
		b, _ := io.ReadAll(c) // until the client's FIN arrives through the proxy
		fmt.Fprintf(c, "got %d bytes", len(b))
	})
	p := startProxy(t, "stream_routes: [{id: h, upstream: {nodes: "+nodes(up)+"}}]\n", "")
	c := dial(t, p.addr)
	c.Write([]byte("hello"))
	c.CloseWrite()
	reply, err := io.ReadAll(c)
	if err != nil || string(reply) != "got 5 bytes" {
		t.Fatalf("reply %q, err %v", reply, err)
	}
}

// The upstream half-closes first: the client sees EOF yet can still send,
// and the upstream receives what it sends afterwards.
func TestHalfCloseFromUpstream(t *testing.T) {
	got := make(chan string, 1)
	up := upstream(t, func(c *net.TCPConn) {
		c.Write([]byte("banner"))
		c.CloseWrite()
		b, _ := io.ReadAll(c)
		got <- string(b)
	})
	p := startProxy(t, "stream_routes: [{id: h, upstream: {nodes: "+nodes(up)+"}}]\n", "")
	c := dial(t, p.addr)
	banner, err := io.ReadAll(c)
	if err != nil || string(banner) != "banner" {
		t.Fatalf("banner %q, err %v", banner, err)
	}
	c.Write([]byte("after-eof"))
	c.CloseWrite()
	select {
	case s := <-got:
		if s != "after-eof" {
			t.Fatalf("upstream got %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("upstream never saw the client's bytes and FIN")
	}
}

// 64 MiB each way, the sender closing right after its last write: every
// byte arrives, in order, in every splice mode.
func TestBigTransferClosedAfterLastWrite(t *testing.T) {
	const size = 64 << 20
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i*7 + i>>12)
	}
	want := sha256.Sum256(payload)
	for _, mode := range []string{"auto", "on", "off"} {
		t.Run("splice-"+mode, func(t *testing.T) {
			upSum := make(chan [32]byte, 1)
			up := upstream(t, func(c *net.TCPConn) {
				if _, err := c.Write(payload); err != nil {
					return
				}
				c.CloseWrite()
				h := sha256.New()
				io.Copy(h, c)
				var s [32]byte
				copy(s[:], h.Sum(nil))
				upSum <- s
			})
			p := startProxy(t, "stream_routes: [{id: big, upstream: {nodes: "+nodes(up)+"}}]\n", "stream: {splice: "+mode+"}\n")
			c := dial(t, p.addr)
			down := make(chan [32]byte, 1)
			go func() {
				h := sha256.New()
				io.Copy(h, c)
				var s [32]byte
				copy(s[:], h.Sum(nil))
				down <- s
			}()
			if _, err := c.Write(payload); err != nil {
				t.Fatal(err)
			}
			c.CloseWrite()
			if got := <-down; got != want {
				t.Error("upstream → client bytes differ")
			}
			select {
			case got := <-upSum:
				if got != want {
					t.Error("client → upstream bytes differ")
				}
			case <-time.After(20 * time.Second):
				t.Fatal("upstream never finished reading")
			}
		})
	}
}

func TestConnectTimeoutClosesClient(t *testing.T) {
	hole := testnet.Blackhole(t)
	p := startProxy(t, "stream_routes: [{id: slow, upstream: {nodes: "+nodes(hole)+", timeout: {connect: 0.3}}}]\n", "")
	c := dial(t, p.addr)
	start := time.Now()
	_, err := c.Read(make([]byte, 1))
	el := time.Since(start)
	if err == nil {
		t.Fatal("read succeeded through a proxy whose only upstream never answers")
	}
	if el < 250*time.Millisecond || el > 3*time.Second {
		t.Fatalf("client closed after %v, want about the 0.3s connect timeout", el)
	}
}

func TestFailoverToNextNode(t *testing.T) {
	refused := testnet.RefusedAddr(t)
	hole := testnet.Blackhole(t)
	var served atomic.Int64
	good := upstream(t, func(c *net.TCPConn) { served.Add(1); echo(c) })
	p := startProxy(t, "stream_routes: [{id: f, upstream: {nodes: "+nodes(refused, hole, good)+", timeout: {connect: 0.2}}}]\n", "")
	for i := range 6 {
		c := dial(t, p.addr)
		c.Write([]byte("x"))
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatalf("connection %d failed although one node is up: %v", i, err)
		}
		c.Close()
	}
	if served.Load() != 6 {
		t.Fatalf("good node served %d of 6", served.Load())
	}
}

func TestNoRouteClosesClient(t *testing.T) {
	up := upstream(t, echo)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// The only route is for the second listener; the first has none.
	p := startProxy(t, fmt.Sprintf("stream_routes: [{id: other, server_port: %d, upstream: {nodes: %s}}]\n", port, nodes(up)),
		fmt.Sprintf("listen: {stream: {tcp: [\"127.0.0.1:0\", \"127.0.0.1:%d\"]}}\n", port))
	c := dial(t, p.srv.Addrs[0].String())
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes from a connection with no route", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection with no route was left open")
	}
	c2 := dial(t, p.srv.Addrs[1].String())
	c2.Write([]byte("y"))
	if _, err := io.ReadFull(c2, make([]byte, 1)); err != nil {
		t.Fatalf("routed listener: %v", err)
	}
}

// A flooding upstream and a client that does not read: the proxy keeps at
// most a buffer per direction, the kernel windows fill, and the upstream's
// writes stall instead of the proxy's memory growing.
func TestBackpressureBoundsMemory(t *testing.T) {
	const flood = 256 << 20
	var written atomic.Int64
	up := upstream(t, func(c *net.TCPConn) {
		buf := make([]byte, 256<<10)
		c.SetWriteDeadline(time.Now().Add(20 * time.Second))
		for written.Load() < flood {
			n, err := c.Write(buf)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	for _, mode := range []string{"off", "on"} {
		t.Run("splice-"+mode, func(t *testing.T) {
			written.Store(0)
			p := startProxy(t, "stream_routes: [{id: flood, upstream: {nodes: "+nodes(up)+"}}]\n", "stream: {splice: "+mode+"}\n")
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			c := dial(t, p.addr)
			// Wait until the upstream stalls: no progress for 300 ms.
			last := int64(-1)
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
				time.Sleep(300 * time.Millisecond)
				w := written.Load()
				if w == last {
					break
				}
				last = w
			}
			runtime.ReadMemStats(&after)
			if w := written.Load(); w >= flood {
				t.Fatalf("upstream wrote all %d bytes into a client that reads nothing", w)
			}
			growth := int64(after.HeapInuse) - int64(before.HeapInuse)
			if growth > 8<<20 {
				t.Fatalf("proxy heap grew %d bytes while the client did not read", growth)
			}
			// Now read: everything written arrives and the flow resumes.
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			n, err := io.CopyN(io.Discard, c, 64<<20)
			if err != nil || n != 64<<20 {
				t.Fatalf("after the stall, read %d: %v", n, err)
			}
		})
	}
}

func TestUpstreamResetReachesClient(t *testing.T) {
	up := upstream(t, func(c *net.TCPConn) {
		b := make([]byte, 1)
		c.Read(b)
		c.SetLinger(0) // RST
	})
	p := startProxy(t, "stream_routes: [{id: r, upstream: {nodes: "+nodes(up)+"}}]\n", "")
	c := dial(t, p.addr)
	c.Write([]byte("x"))
	_, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("unexpected error %v", err)
	}
	// Either an EOF or a reset: what matters is that the client is not left hanging.
}
