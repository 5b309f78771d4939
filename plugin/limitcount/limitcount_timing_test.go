package limitcount_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin/internal/cputime"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// BenchmarkAccess is one request's limit-count: the access hook with its
// three headers, on a key seen before. "baseline" is the same harness
// (Ctx reset, request phases) with no plugin: subtract it.
func BenchmarkAccess(b *testing.B) {
	raw := "GET /get HTTP/1.1\r\nHost: example.com\r\nX-User: ann\r\n\r\n"
	for _, bb := range []struct{ name, conf string }{
		{"baseline", ``},
		{"remote_addr", `{"count":1000000000,"time_window":60}`},
		{"remote_addr/no-headers", `{"count":1000000000,"time_window":60,"show_limit_quota_header":false}`},
		{"var_combination", `{"count":1000000000,"time_window":60,"key_type":"var_combination","key":"$remote_addr $http_x_user"}`},
		{"constant", `{"count":1000000000,"time_window":60,"key_type":"constant","key":"k"}`},
		{"group", `{"count":1000000000,"time_window":60,"group":"g"}`},
		{"rejected", `{"count":1,"time_window":60}`},
	} {
		b.Run(bb.name, func(b *testing.B) {
			route := `{}`
			if bb.conf != "" {
				route = `{"limit-count":` + bb.conf + `}`
			}
			ch := build(b, route)
			r := plugintest.NewRequest(raw, "10.0.0.1:5000")
			now := time.Now()
			b.ReportAllocs()
			defer cputime.PerOp(b)()
			for b.Loop() {
				c := r.Reset(ch)
				c.Start = now
				c.Request()
			}
		})
	}
}

// BenchmarkParallel is many loops counting at once: every request on one
// key (all loops meet on one counter) or each loop on its own client.
func BenchmarkParallel(b *testing.B) {
	for _, shared := range []bool{true, false} {
		b.Run(fmt.Sprintf("one-key=%v", shared), func(b *testing.B) {
			ch := build(b, `{"limit-count":{"count":1000000000,"time_window":60}}`)
			var next atomic.Int32
			b.ReportAllocs()
			c0 := cputime.Process()
			b.RunParallel(func(pb *testing.PB) {
				remote := "10.0.0.1:5000"
				if !shared {
					n := next.Add(1)
					remote = fmt.Sprintf("10.0.%d.%d:5000", n/250, n%250+1)
				}
				r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", remote)
				now := time.Now()
				for pb.Next() {
					c := r.Reset(ch)
					c.Start = now
					c.Request()
				}
			})
			b.ReportMetric(float64(cputime.Process()-c0)/float64(b.N), "cpu-ns/op")
		})
	}
}
