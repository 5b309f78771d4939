//go:build !race

package prometheus_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/prometheus"
)

// The log hook allocates nothing once a label set and its status class
// have been seen (the first request of each allocates them, see the
// package doc): neither on the per-loop cache's hits nor through its map
// when label sets alternate.
func TestLogAllocs(t *testing.T) {
	reg := plugintest.Registry(t, prometheus.NewDef(prometheus.NewExporter()))
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"prometheus":{"prefer_name":true}}`})
	r := plugintest.NewRequest(get, "127.0.0.1:5000")
	consumers := []*plugin.Consumer{{Username: "a"}, {Username: "b"}, nil}
	nodes := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.2:80"), {}}
	metas := make([]*plugin.RouteMeta, 40)
	for i := range metas {
		metas[i] = &plugin.RouteMeta{Name: string(rune('a' + i)), URI: "/x"}
	}
	start := time.Now()
	i := 0
	run := func() {
		c := r.Reset(ch)
		c.Loop = i % 2
		c.Status = 200 + 100*(i%4)
		c.Consumer = consumers[i%3]
		c.Node = nodes[i%3]
		c.RouteMeta = metas[i%len(metas)]
		c.Start, c.UpstreamStart = start, start
		c.BytesIn, c.BytesOut = 100, 200
		c.Sampled = i%8 == 0
		i++
		c.Request()
		c.Log()
	}
	for range 2 * 4 * 3 * 3 * len(metas) {
		run()
	}
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Errorf("%.2f allocs per log, want 0", n)
	}
}

// Extra labels (a log-phase variable, a route name, a request header read
// in access) keep the hook free of allocations once their series exist.
func TestLogAllocsExtraLabels(t *testing.T) {
	e := prometheus.NewExporter()
	if err := e.Configure(&core.PrometheusAttr{Metrics: map[string]core.PrometheusMetricAttr{
		"http_status": {ExtraLabels: []map[string]string{{"upstream_addr": "$upstream_addr"}, {"route_name": "$route_name"}}},
		"bandwidth":   {ExtraLabels: []map[string]string{{"tenant": "$http_x_tenant"}, {"status": "$status"}}},
	}}); err != nil {
		t.Fatal(err)
	}
	reg := plugintest.Registry(t, prometheus.NewDef(e))
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"prometheus":{}}`})
	reqs := []*plugintest.Request{
		plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\nX-Tenant: acme\r\n\r\n", "127.0.0.1:5000"),
		plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\nX-Tenant: other\r\n\r\n", "127.0.0.1:5000"),
	}
	meta := &plugin.RouteMeta{Name: "r"}
	nodes := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.2:80")}
	i := 0
	run := func() {
		c := reqs[i%2].Reset(ch)
		c.Status, c.Node, c.RouteMeta = 200+i%3, nodes[i%2], meta
		c.Start = time.Now()
		c.BytesIn = 10
		i++
		c.Request()
		c.Log()
	}
	for range 24 {
		run()
	}
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Errorf("%.2f allocs per log, want 0", n)
	}
}
