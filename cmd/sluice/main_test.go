package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/testnet"
)

var binPath string

// TestMain builds the real binary once; the tests run it as users do.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-bin")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "sluice")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building sluice: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort finds a port for a sluice process to listen on. It is taken
// below the kernel's ephemeral range (32768 up, the default
// ip_local_port_range), as freePortPair's are: a port the kernel handed out
// for :0 could be given again, to another test's outgoing connection,
// before the sluice process binds it ("address already in use" in CI).
// freePortPair uses 20000–30000; this uses 30002–32767.
func freePort(t *testing.T) int {
	t.Helper()
	for range 200 {
		p := 30002 + rand.IntN(32768-30002)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		ln.Close()
		return p
	}
	t.Fatal("no free port in 30002-32767")
	return 0
}

func writeConf(t *testing.T, dir string, port int, routes string, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf("listen: {http: [], stream: {tcp: [\"127.0.0.1:%d\"]}}\nworkers: 1\nconfig: {provider: yaml, yaml_path: routes.yaml}\nadmin: {listen: \"127.0.0.1:0\"}\nshutdown_timeout: 5\n%s", port, extra)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(routes), 0o644)
	return filepath.Join(dir, "config.yaml")
}

func sluice(args ...string) (string, int) {
	out, err := exec.Command(binPath, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return string(out), code
}

func TestVersion(t *testing.T) {
	out, code := sluice("version")
	if code != 0 || !strings.HasPrefix(out, "sluice ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if _, code := sluice("frobnicate"); code != 2 {
		t.Fatalf("unknown command exited %d, want 2", code)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := writeConf(t, dir, 9100, "stream_routes: [{id: r, server_port: 9100, upstream: {nodes: {\"127.0.0.1:6379\": 1}}}]\n", "")
	if out, code := sluice("validate", "-c", good); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("valid config: exit %d\n%s", code, out)
	}
	os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte("stream_routes:\n  - id: r\n    server_port: 9100\n    upstream: {nodes: {\"127.0.0.1:6379\": 1}, type: fancy}\n"), 0o644)
	out, code := sluice("validate", "-c", good)
	want := filepath.Join(dir, "routes.yaml") + `:4: stream_routes[0].upstream.type: want roundrobin, chash, ewma or least_conn, got "fancy"`
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("bad routes: exit %d\n%s\nwant %s", code, out, want)
	}
	if out, code := sluice("run", "-c", filepath.Join(dir, "missing.yaml")); code != 1 || !strings.Contains(out, "missing.yaml") {
		t.Fatalf("missing config: exit %d %q", code, out)
	}
}

type proc struct {
	cmd *exec.Cmd
	log *syncBuffer
}

// syncBuffer is the child's output, written by exec's copier while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, cfg string, port int) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binPath, "run", "-c", cfg), log: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return p
		}
	}
	t.Fatalf("sluice did not listen on %d:\n%s", port, p.log)
	return nil
}

func rss(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func echoServer(t *testing.T, handle func(net.Conn)) string {
	return testnet.Serve(t, func(c *net.TCPConn) { handle(c) })
}

// A 256 MiB flood into a client that does not read grows sluice's RSS by at
// most 64 MiB (the budget; by design it is one buffer per direction).
func TestFloodIntoNonReadingClientBoundsRSS(t *testing.T) {
	const flood = 256 << 20
	for _, mode := range []string{"auto", "off"} {
		t.Run("splice-"+mode, func(t *testing.T) {
			// An upstream and a count of its own per mode: a connection
			// left from the previous mode's proxy (it is stopped in its
			// cleanup) must not add to this one's count.
			var written atomic.Int64
			up := echoServer(t, func(c net.Conn) {
				buf := make([]byte, 1<<20)
				c.SetWriteDeadline(time.Now().Add(30 * time.Second))
				for written.Load() < flood {
					n, err := c.Write(buf)
					written.Add(int64(n))
					if err != nil {
						return
					}
				}
			})
			port := freePort(t)
			cfg := writeConf(t, t.TempDir(), port, fmt.Sprintf("stream_routes: [{id: f, upstream: {nodes: {%q: 1}}}]\n", up), "stream: {splice: "+mode+"}\n")
			p := start(t, cfg, port)
			base := rss(t, p.cmd.Process.Pid)
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			peak := base
			last := int64(-1)
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
				if r := rss(t, p.cmd.Process.Pid); r > peak {
					peak = r
				}
				if w := written.Load(); w == last && w > 0 {
					break // stalled: backpressure reached the upstream
				} else {
					last = w
				}
			}
			growth := peak - base
			t.Logf("upstream wrote %d MiB before stalling; sluice RSS %d → peak %d KiB (+%d KiB)", written.Load()>>20, base>>10, peak>>10, growth>>10)
			if written.Load() >= flood {
				t.Fatalf("all %d bytes were absorbed", flood)
			}
			if growth > 64<<20 {
				t.Fatalf("RSS grew %d MiB, budget 64 MiB", growth>>20)
			}
		})
	}
}

// SIGTERM stops accepting, lets open sessions finish, then exits 0.
func TestSIGTERMDrains(t *testing.T) {
	up := echoServer(t, func(c net.Conn) { io.Copy(c, c) })
	port := freePort(t)
	cfg := writeConf(t, t.TempDir(), port, fmt.Sprintf("stream_routes: [{id: e, upstream: {nodes: {%q: 1}}}]\n", up), "")
	p := start(t, cfg, port)
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("a"))
	io.ReadFull(c, make([]byte, 1))
	p.cmd.Process.Signal(syscall.SIGTERM)
	// New connections are refused once the listeners close.
	refused := false
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		nc, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			refused = true
			break
		}
		nc.Close()
	}
	if !refused {
		t.Fatal("still accepting after SIGTERM")
	}
	// The open session still works…
	if _, err := c.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatalf("open session broke during drain: %v", err)
	}
	// …and when it ends the process exits cleanly, before the 5 s deadline.
	c.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.log)
		}
	case <-time.After(4 * time.Second):
		t.Fatalf("did not exit after its last session closed\n%s", p.log)
	}
}

// SIGHUP re-reads the routes file: a bad file is rejected and the old config
// keeps serving; a good one takes over.
func TestSIGHUPReload(t *testing.T) {
	a := echoServer(t, func(c net.Conn) { c.Write([]byte("A")) })
	b := echoServer(t, func(c net.Conn) { c.Write([]byte("B")) })
	port := freePort(t)
	dir := t.TempDir()
	cfg := writeConf(t, dir, port, fmt.Sprintf("stream_routes: [{id: e, upstream: {nodes: {%q: 1}}}]\n", a), "")
	p := start(t, cfg, port)
	ask := func() string {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		got, _ := io.ReadAll(c)
		return string(got)
	}
	if got := ask(); got != "A" {
		t.Fatalf("before reload got %q", got)
	}
	routes := filepath.Join(dir, "routes.yaml")
	os.WriteFile(routes, []byte("stream_routes: [{id: e, upstream: {nodes: {\"nope\": 1}}}]\n"), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "reload rejected")
	if got := ask(); got != "A" {
		t.Fatalf("after a rejected reload got %q", got)
	}
	os.WriteFile(routes, []byte(fmt.Sprintf("stream_routes: [{id: e, upstream: {nodes: {%q: 1}}}]\n", b)), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "reloaded")
	if got := ask(); got != "B" {
		t.Fatalf("after reload got %q", got)
	}
}

func waitLog(t *testing.T, p *proc, s string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(p.log.String(), s) {
			return
		}
	}
	t.Fatalf("log never said %q:\n%s", s, p.log)
}
