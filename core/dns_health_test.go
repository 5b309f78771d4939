package core

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/testnet"
)

// When a name's addresses change, the upstream's checker gives the new
// nodes their view before they are used: the address both answers have
// keeps its health (down stays down), the new one starts healthy and is
// probed, and the new balancer skips the down node.
func TestResolverChangeKeepsHealth(t *testing.T) {
	var bad, good *statusServer
	for range 20 {
		bad = newStatusServer(t, "127.0.0.2:0", 500)
		_, port, _ := net.SplitHostPort(bad.addr)
		if ln, err := net.Listen("tcp", "127.0.0.3:"+port); err == nil {
			ln.Close()
			good = newStatusServer(t, "127.0.0.3:"+port, 200)
			break
		}
	}
	if good == nil {
		t.Fatal("no port free on both 127.0.0.2 and 127.0.0.3")
	}
	_, port, _ := net.SplitHostPort(bad.addr)
	dns := testnet.ServeDNS(t)
	dns.Set("svc.test", 1, "127.0.0.2")
	r := newResolver(resolvConf{servers: []netip.AddrPort{netip.MustParseAddrPort(dns.Addr)}, ndots: 1}, filepath.Join(t.TempDir(), "hosts"), 0, time.Second)
	t.Cleanup(r.Close)
	snap, err := loadRoutes(t, streamCfg, fmt.Sprintf(`upstreams:
  - id: web
    nodes: {"svc.test:%s": 1}
    checks: {active: {healthy: {interval: 0.05}, unhealthy: {interval: 0.05, http_failures: 1}}}
`, port))
	if err != nil {
		t.Fatal(err)
	}
	store := &Store{DNS: r}
	if err := store.Publish(snap); err != nil {
		t.Fatal(err)
	}
	g, err := NewGroup(1, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	t.Cleanup(g.Stop)
	h := store.Health()
	h.Start(g)
	waitStatus(t, h, "upstreams/web", bad.addr, "unhealthy")

	web := snap.Upstreams["web"]
	old := web.Nodes()
	dns.Set("svc.test", 1, "127.0.0.2", "127.0.0.3")
	waitNodes(t, web, fmt.Sprintf("[%s %s]", bad.addr, good.addr))
	ns := web.Nodes()
	v := ns.Health()
	if v == nil || v == old.Health() || !v.Down(0) || v.Down(1) {
		t.Fatalf("the new nodes' view: %v (old %v), down %v %v", v, old.Health(), v.Down(0), v.Down(1))
	}
	for range 10 {
		if n := ns.Bal.Pick(0, nil, 0); n != 1 {
			t.Fatalf("picked node %d, the one that is down", n)
		}
		ns.Bal.Done(0, 1, time.Millisecond, false)
	}
	waitFor(t, "the new address to be probed", func() bool { return good.hits.Load() > 0 })
	if n, ok := statusOf(h, "upstreams/web", good.addr); !ok || n.Status != "healthy" {
		t.Fatalf("the new address in /v1/healthcheck: %+v (listed %v)", n, ok)
	}
}
