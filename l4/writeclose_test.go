package l4

import (
	"io"
	"net"
	"testing"
	"time"
)

// A node that writes a few bytes and closes at once: its FIN can arrive while
// the connect handler still owns the socket's events, before the relay takes
// over. Every client must still get the bytes and then EOF.
func TestNodeWritesAndClosesAtOnce(t *testing.T) {
	up := upstream(t, func(c *net.TCPConn) { c.Write([]byte("B")) })
	p := startProxy(t, "stream_routes: [{id: b, upstream: {nodes: "+nodes(up)+"}}]\n", "")
	for i := range 300 {
		c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != "B" {
			t.Fatalf("connection %d: got %q, %v; want \"B\" then EOF", i, got, err)
		}
	}
}
