package main

import (
	"bufio"
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
)

// writeHTTPConf is a config with one HTTP listener on port and a catch-all
// route to upstream.
func writeHTTPConf(t *testing.T, port int, upstream string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf("listen: {http: [\"127.0.0.1:%d\"]}\nworkers: 1\nconfig: {provider: yaml, yaml_path: routes.yaml}\nadmin: {listen: \"127.0.0.1:0\"}\n", port)
	routes := fmt.Sprintf("routes:\n  - {id: all, uri: \"/*\", upstream: {nodes: {%q: 1}, timeout: {read: 60, send: 60}}}\n", upstream)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(routes), 0o644)
	return filepath.Join(dir, "config.yaml")
}

// peakRSS samples pid's RSS every 100 ms while f runs and returns the peak.
func peakRSS(t *testing.T, pid int, f func()) int64 {
	t.Helper()
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if r := rss(t, pid); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	<-done
	return peak.Load()
}

// A client reading a 1 GiB response at 1 MB/s: over a 4-second window the
// upstream pushes as fast as the proxy lets it, and sluice's RSS must stay
// within the 64 MiB budget (by design it holds one buffer).
func TestSlowClientHugeResponseRSS(t *testing.T) {
	const size = 1 << 30
	var written atomic.Int64
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		buf := make([]byte, 1<<20)
		for written.Load() < size {
			n, err := w.Write(buf)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	port := freePort(t)
	p := start(t, writeHTTPConf(t, port, ln.Addr().String()), port)
	base := rss(t, p.cmd.Process.Pid)
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET /huge HTTP/1.1\r\nHost: x\r\n\r\n"))
	var got int64
	peak := peakRSS(t, p.cmd.Process.Pid, func() {
		buf := make([]byte, 100<<10)
		for range 40 { // 100 KiB every 100 ms: 1 MB/s for 4 s
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := io.ReadFull(c, buf)
			got += int64(n)
			if err != nil {
				t.Fatalf("read after %d bytes: %v", got, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	growth := peak - base
	t.Logf("read %d KiB at 1 MB/s; upstream pushed %d MiB; sluice RSS %d → peak %d KiB (+%d KiB)", got>>10, written.Load()>>20, base>>10, peak>>10, growth>>10)
	if growth > 64<<20 {
		t.Fatalf("RSS grew %d MiB, budget 64 MiB", growth>>20)
	}
}

// A 1 GiB upload to an upstream that reads 1 MB/s, over a 4-second window.
func TestSlowUpstreamHugeUploadRSS(t *testing.T) {
	const size = 1 << 30
	var read atomic.Int64
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for { // the head
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		buf := make([]byte, 100<<10)
		for read.Load() < size {
			n, err := br.Read(buf)
			read.Add(int64(n))
			if err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	port := freePort(t)
	p := start(t, writeHTTPConf(t, port, ln.Addr().String()), port)
	base := rss(t, p.cmd.Process.Pid)
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
	var sent atomic.Int64
	go func() {
		buf := []byte(strings.Repeat("u", 1<<20))
		for sent.Load() < size {
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			n, err := c.Write(buf)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	peak := peakRSS(t, p.cmd.Process.Pid, func() { time.Sleep(4 * time.Second) })
	growth := peak - base
	t.Logf("client pushed %d MiB; upstream read %d KiB at 1 MB/s; sluice RSS %d → peak %d KiB (+%d KiB)", sent.Load()>>20, read.Load()>>10, base>>10, peak>>10, growth>>10)
	if read.Load() == 0 {
		t.Fatal("the upload never reached the upstream")
	}
	if growth > 64<<20 {
		t.Fatalf("RSS grew %d MiB, budget 64 MiB", growth>>20)
	}
}
