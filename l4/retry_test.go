package l4

import (
	"bytes"
	"io"
	"net"
	"sync/atomic"
	"testing"

	"github.com/sluice-gateway/sluice/internal/testnet"
)

// retry_timeout ends a stream's failover: nodes are tried in order (one
// loop, equal weights) — two that never answer a SYN, then one that
// serves. With retries alone the session reaches the third node; with a
// retry_timeout shorter than one connect timeout it gives up after the first.
func TestStreamRetryTimeoutStopsFailover(t *testing.T) {
	marker := []byte("retry-timeout-session")
	for _, tc := range []struct {
		name   string
		extra  string
		served int64
	}{{"unbounded", "", 1}, {"bounded", ", retry_timeout: 0.1", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			// Sessions count only when they carry the marker: on a shared
			// machine another process may connect to a port it once used.
			var served atomic.Int64
			good := upstream(t, func(c *net.TCPConn) {
				b := make([]byte, len(marker))
				if _, err := io.ReadFull(c, b); err != nil || !bytes.Equal(b, marker) {
					return
				}
				served.Add(1)
				c.Write(b)
			})
			ns := nodes(testnet.Blackhole(t), testnet.Blackhole(t), good)
			p := startProxy(t, "stream_routes: [{id: f, upstream: {nodes: "+ns+", retries: 2, timeout: {connect: 0.3}"+tc.extra+"}}]\n", "workers: 1\n")
			c := dial(t, p.addr)
			c.Write(marker)
			_, err := io.ReadFull(c, make([]byte, len(marker)))
			if got := served.Load(); got != tc.served || (err == nil) != (tc.served == 1) {
				t.Fatalf("third node served %d sessions (read error %v), want %d", got, err, tc.served)
			}
		})
	}
}
