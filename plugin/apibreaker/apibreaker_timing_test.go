package apibreaker_test

import (
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin/internal/cputime"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// BenchmarkRequest is one request's api-breaker, access and log, with a
// healthy upstream: while no path failed, and while another path of the
// route is failing. "baseline" is the harness with no plugin.
func BenchmarkRequest(b *testing.B) {
	for _, bb := range []struct{ name, conf, failing string }{
		{"baseline", "", ""},
		{"healthy", `{"break_response_code":502}`, ""},
		{"another-path-failing", `{"break_response_code":502}`, "/bad"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			ch := plugintest.MustBuild(b, plugintest.Registry(b), plugintest.Config{})
			if bb.conf != "" {
				ch = build(b, bb.conf)
			}
			if bb.failing != "" {
				call(ch, int(time.Now().Unix()-t0.Unix()), bb.failing, 500)
			}
			r := plugintest.NewRequest("GET /ok HTTP/1.1\r\nHost: example.com\r\n\r\n", "10.0.0.1:5000")
			now := time.Now()
			b.ReportAllocs()
			defer cputime.PerOp(b)()
			for b.Loop() {
				c := r.Reset(ch)
				c.Start = now
				c.Request()
				c.UpstreamStart = now
				c.Status = 200
				c.Log()
			}
		})
	}
}
