//go:build !race

package l7

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// rawUpstream answers every request head it reads with a fixed response,
// allocating nothing per request, so the process's allocation count during
// a round trip is the proxy's.
func rawUpstream(t testing.TB, resp []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				n := 0
				for {
					k, err := c.Read(buf[n:])
					if err != nil {
						return
					}
					n += k
					for {
						i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
						if i < 0 {
							break
						}
						if _, err := c.Write(resp); err != nil {
							return
						}
						n = copy(buf, buf[i+4:n])
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// A keep-alive request and its response through the whole pipeline (parse,
// route, pooled upstream, head rewrite, writev, response parse and forward)
// cost no allocation in the steady state.
func TestProxiedRequestAllocs(t *testing.T) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello")
	up := rawUpstream(t, resp)
	p := startProxy(t, catchAll(up), DefaultOptions())
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /api/v1/items?id=7 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: alloc-test\r\nAccept: */*\r\n\r\n")
	in := make([]byte, 4096)
	want := 0
	roundTrip := func() {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, in[:want]); err != nil {
			t.Fatal(err)
		}
	}
	// Learn the forwarded response's size (the proxy edits nothing in it).
	c.Write(req)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := c.Read(in)
	want = n
	if !bytes.HasSuffix(in[:n], []byte("hello")) {
		t.Fatalf("first response %q", in[:n])
	}
	for range 100 {
		roundTrip()
	}
	if a := testing.AllocsPerRun(1000, roundTrip); a != 0 {
		t.Fatalf("%v allocations per proxied request, want 0", a)
	}
}
