package l4

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/testnet"
)

// A stream route whose upstream names a host that does not resolve yet
// closes its connections; once the name resolves they are proxied.
func TestStreamUpstreamNameResolvesLater(t *testing.T) {
	dns := testnet.ServeDNS(t)
	up := upstream(t, echo)
	_, port, _ := net.SplitHostPort(up)
	p := startProxy(t, "stream_routes: [{id: s, upstream: {nodes: {\"echo.sluice.test:"+port+"\": 1}}}]\n",
		"dns_resolver: [\""+dns.Addr+"\"]\nresolver_timeout: 0.5\n")
	c := dial(t, p.addr)
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection was served with no upstream address")
	}
	dns.Set("echo.sluice.test", 60, "127.0.0.1")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c := dial(t, p.addr)
		c.Write([]byte("hi"))
		b := make([]byte, 2)
		if _, err := io.ReadFull(c, b); err == nil && string(b) == "hi" {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the stream route never used the address the name resolved to")
		}
	}
}
