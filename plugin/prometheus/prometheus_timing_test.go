package prometheus_test

import (
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/internal/cputime"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/prometheus"
)

func benchLog(b *testing.B, metas int, parallel bool) {
	benchChain(b, `{"prometheus":{"prefer_name":true}}`, metas, parallel, true)
}

// benchChain logs requests on a chain of route's plugins; withEnd has the
// "server" set Ctx.End, as l7 does, else the hook reads the clock.
func benchChain(b *testing.B, route string, metas int, parallel, withEnd bool) {
	e := prometheus.NewExporter()
	reg := plugintest.Registry(b, prometheus.NewDef(e))
	ch := plugintest.MustBuild(b, reg, plugintest.Config{Route: route})
	ms := make([]*plugin.RouteMeta, metas)
	for i := range ms {
		ms[i] = &plugin.RouteMeta{Name: "route-" + strconv.Itoa(i), URI: "/x"}
	}
	jack := &plugin.Consumer{Username: "jack"}
	node := netip.MustParseAddrPort("10.0.0.1:80")
	var loops atomic.Int32
	body := func(loop int, next func() bool) {
		r := plugintest.NewRequest(get, "127.0.0.1:5000")
		start := time.Now()
		for i := 0; next(); i++ {
			c := r.Reset(ch)
			c.Loop, c.Status, c.Consumer, c.Node, c.RouteMeta = loop, 200, jack, node, ms[i%metas]
			c.Start, c.UpstreamStart = start, start
			if withEnd {
				c.End = start.Add(time.Duration(i&1023) * time.Microsecond)
			}
			c.BytesIn, c.BytesOut = 100, 200
			c.Log()
		}
	}
	b.ReportAllocs()
	if !parallel {
		defer cputime.PerOp(b)()
		body(0, func() bool { return b.Loop() })
		return
	}
	b.RunParallel(func(pb *testing.PB) { body(int(loops.Add(1)-1), pb.Next) })
}

// The same request with no plugin: what the harness itself costs.
func BenchmarkLogBaseline(b *testing.B) { benchChain(b, `{}`, 1, false, true) }

// Ctx.End unset: the hook reads the clock itself.
func BenchmarkLogReadsClock(b *testing.B) {
	benchChain(b, `{"prometheus":{"prefer_name":true}}`, 1, false, false)
}

// One label set: the per-loop cache hits.
func BenchmarkLog(b *testing.B) { benchLog(b, 1, false) }

// 64 routes in turn: most lookups go through the loop's map.
func BenchmarkLogManySeries(b *testing.B) { benchLog(b, 64, false) }

// Every goroutine a loop of its own, one route.
func BenchmarkLogParallel(b *testing.B) { benchLog(b, 1, true) }

// What the hook would cost on client_golang's own collectors with the
// label sets already resolved (WithLabelValues done once, outside the
// loop): a lower bound for that design, shared by all loops.
func benchClientGolang(b *testing.B, parallel bool) {
	r := prom.NewRegistry()
	status := prom.NewCounterVec(prom.CounterOpts{Name: "s"}, []string{"code", "route"})
	lat := prom.NewHistogramVec(prom.HistogramOpts{Name: "l", Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000}}, []string{"type", "route"})
	bw := prom.NewCounterVec(prom.CounterOpts{Name: "b"}, []string{"type", "route"})
	r.MustRegister(status, lat, bw)
	s := status.WithLabelValues("200", "1")
	l1, l2, l3 := lat.WithLabelValues("request", "1"), lat.WithLabelValues("upstream", "1"), lat.WithLabelValues("apisix", "1")
	in, out := bw.WithLabelValues("ingress", "1"), bw.WithLabelValues("egress", "1")
	body := func(next func() bool) {
		start := time.Now()
		for next() {
			now := time.Now()
			ms := float64(now.Sub(start)) / 1e6
			s.Inc()
			l1.Observe(ms)
			l2.Observe(ms)
			l3.Observe(0)
			in.Add(100)
			out.Add(200)
		}
	}
	b.ReportAllocs()
	if !parallel {
		defer cputime.PerOp(b)()
		body(func() bool { return b.Loop() })
		return
	}
	b.RunParallel(func(pb *testing.PB) { body(pb.Next) })
}

func BenchmarkClientGolangDirect(b *testing.B)         { benchClientGolang(b, false) }
func BenchmarkClientGolangDirectParallel(b *testing.B) { benchClientGolang(b, true) }

// A scrape of 1,000 series over 4 loops.
func BenchmarkScrape(b *testing.B) {
	e := prometheus.NewExporter()
	reg := plugintest.Registry(b, prometheus.NewDef(e))
	ch := plugintest.MustBuild(b, reg, plugintest.Config{Route: `{"prometheus":{"prefer_name":true}}`})
	r := plugintest.NewRequest(get, "127.0.0.1:5000")
	for i := range 1000 {
		c := r.Reset(ch)
		c.Loop, c.Status = i%4, 200
		c.RouteMeta = &plugin.RouteMeta{Name: "r" + strconv.Itoa(i/4)}
		c.Log()
	}
	reg2 := prom.NewRegistry()
	reg2.MustRegister(e)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg2.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
