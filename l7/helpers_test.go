package l7

import (
	"bytes"
	"net"
	"testing"

	"github.com/sluice-gateway/sluice/internal/testnet"
)

// rawUpstream answers every request head it reads with a fixed response,
// allocating nothing per request, so the process's allocation count during
// a round trip is the proxy's.
func rawUpstream(t testing.TB, resp []byte) string {
	return testnet.Serve(t, func(c *net.TCPConn) {
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
	})
}
