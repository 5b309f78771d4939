package l7

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// BenchmarkProxiedRequest measures keep-alive requests through the whole
// pipeline with -c concurrent clients, against an upstream that answers a
// fixed 5-byte response. Client, proxy loop and upstream share the process,
// so ns/op is an upper bound on the proxy's own cost; profile with
// -cpuprofile to see the split.
func BenchmarkProxiedRequest(b *testing.B) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello")
	up := rawUpstream(b, resp)
	p := startProxy(b, catchAll(up), DefaultOptions())
	req := []byte("GET /api/v1/items?id=7 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	const clients = 8
	conns := make([]net.Conn, clients)
	size := 0
	for i := range conns {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		c.Write(req)
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := c.Read(buf)
		if !bytes.HasSuffix(buf[:n], []byte("hello")) {
			b.Fatalf("response %q", buf[:n])
		}
		size = n
		conns[i] = c
	}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/clients + 1
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, size)
			for range per {
				if _, err := c.Write(req); err != nil {
					return
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
}
