package l4

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A stream upstream with active http probes: a node whose probe answers
// 503 gets no connections until it answers 200 again.
func TestStreamSkipsUnhealthyNode(t *testing.T) {
	var bStatus atomic.Int32
	bStatus.Store(503)
	serve := func(name string, status func() int) string {
		return upstream(t, func(c *net.TCPConn) {
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "GET /healthz ") { // a probe
				fmt.Fprintf(c, "HTTP/1.0 %d X\r\n\r\n", status())
				return
			}
			io.WriteString(c, name+"\n")
			io.Copy(io.Discard, c)
		})
	}
	a := serve("a", func() int { return 200 })
	b := serve("b", func() int { return int(bStatus.Load()) })
	p := startProxy(t, fmt.Sprintf(`stream_routes:
  - id: s
    upstream:
      nodes: {%q: 1, %q: 1}
      checks: {active: {http_path: /healthz, healthy: {interval: 0.05, successes: 1}, unhealthy: {interval: 0.05, http_failures: 1}}}
`, a, b), "")
	p.store.Health().Start(p.group)
	talk := func() string {
		c := dial(t, p.addr)
		defer c.Close()
		io.WriteString(c, "hi\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(line)
	}
	waitHealth := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st := p.store.Health().Status("stream_routes/s")
			if len(st) == 1 && st[0].Nodes[1].Status == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("node b never %s: %+v", want, st)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitHealth("unhealthy")
	for range 20 {
		if got := talk(); got != "a" {
			t.Fatalf("a connection went to %q, the unhealthy node", got)
		}
	}
	bStatus.Store(200)
	waitHealth("healthy")
	seen := map[string]int{}
	for range 20 {
		seen[talk()]++
	}
	if seen["b"] == 0 {
		t.Errorf("node b back up got no connection: %v", seen)
	}
}
