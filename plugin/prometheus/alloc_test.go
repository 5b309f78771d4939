//go:build !race

package prometheus_test

import (
	"net/netip"
	"testing"
	"time"

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
