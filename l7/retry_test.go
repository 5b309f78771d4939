package l7

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/testnet"
	"golang.org/x/sys/unix"
)

// A pooled connection whose first write fails (nothing of the request went
// out) is retried on a fresh connection, and the client's buffer is still in
// step: the pipelined request after it is answered too.
func TestRetryAfterWriteFailsOnPooledConnection(t *testing.T) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	up := testnet.Serve(t, func(c *net.TCPConn) {
		buf := make([]byte, 4096)
		n := 0
		for {
			k, err := c.Read(buf[n:])
			if err != nil {
				<-done // keep our side open: the proxy must find out by writing
				return
			}
			n += k
			for i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0; i = bytes.Index(buf[:n], []byte("\r\n\r\n")) {
				c.Write(resp)
				n = copy(buf, buf[i+4:n])
			}
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
	roundTrip := func(reqs string, n int) {
		t.Helper()
		c.Write([]byte(reqs))
		for range n {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(b) != "ok" {
				t.Fatalf("%d %q", resp.StatusCode, b)
			}
		}
	}
	roundTrip("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 1)
	// Make the pooled connection refuse writes, as a node's reset would.
	shut := make(chan int, 1)
	l := p.group.Loops[0]
	l.Post(func(any) error {
		k := 0
		for _, pool := range p.srv.loops[l.ID].pools {
			for _, u := range pool.conns {
				unix.Shutdown(u.fd, unix.SHUT_WR)
				k++
			}
		}
		shut <- k
		return nil
	}, nil)
	if <-shut != 1 {
		t.Fatal("expected one pooled connection")
	}
	roundTrip("GET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n", 2)
}
