//go:build !race

package apibreaker_test

import (
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// A request allocates nothing: through a breaker with no failures, past
// one whose table has another path's failures, or broken (its header
// values rendered into request scratch).
func TestAllocs(t *testing.T) {
	conf := `{"break_response_code":502,"break_response_body":"down","break_response_headers":[{"key":"X-Client","value":"$remote_addr"}],"unhealthy":{"failures":1},"max_breaker_sec":300}`
	for _, tt := range []struct {
		name    string
		failing string // a path that failed first
		path    string
	}{
		{"no failures", "", "/ok"},
		{"another path failed", "/bad", "/ok"},
		{"broken", "/bad", "/bad"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch := build(t, conf)
			if tt.failing != "" {
				call(ch, int(time.Now().Unix()-t0.Unix()), tt.failing, 500)
			}
			r := plugintest.NewRequest("GET "+tt.path+" HTTP/1.1\r\nHost: example.com\r\n\r\n", "10.0.0.1:5000")
			now := time.Now()
			run := func() {
				c := r.Reset(ch)
				c.Start = now
				if !c.Request().Stopped() {
					c.UpstreamStart = now
					c.Status = 200
				}
				c.Log()
			}
			run()
			if stopped := r.Run(ch).Stopped(); stopped != (tt.path == tt.failing) {
				t.Fatalf("stopped %v, want %v", stopped, !stopped)
			}
			if n := testing.AllocsPerRun(500, run); n != 0 {
				t.Errorf("%.1f allocs per request, want 0", n)
			}
		})
	}
}
