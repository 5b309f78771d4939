//go:build !race

package faultinjection_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// A request allocates nothing: let through, aborted with rendered body
// and headers, delayed, or delayed and then aborted.
func TestAllocs(t *testing.T) {
	for _, tt := range []struct{ name, conf string }{
		{"pass (vars do not match)", `{"abort":{"http_status":403,"vars":[[["arg_name","==","jack"]]]},"delay":{"duration":1,"vars":[[["arg_name","==","jack"]]]}}`},
		{"pass (percentage)", `{"abort":{"http_status":403,"percentage":0}}`},
		{"abort", `{"abort":{"http_status":403,"body":"from $remote_addr","headers":{"X-Client":"$remote_addr","X-N":1}}}`},
		{"delay", `{"delay":{"duration":1}}`},
		{"delay then abort", `{"abort":{"http_status":403,"body":"x"},"delay":{"duration":1}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch := build(t, tt.conf)
			r := plugintest.NewRequest("GET /hello?name=allen HTTP/1.1\r\nHost: a\r\n\r\n", "10.0.0.1:5000")
			run := func() {
				c := r.Reset(ch)
				for res := c.Request(); res.Delay > 0; res = c.Request() {
				}
				c.Log()
			}
			run()
			if n := testing.AllocsPerRun(500, run); n != 0 {
				t.Errorf("%.1f allocs per request, want 0", n)
			}
		})
	}
}
