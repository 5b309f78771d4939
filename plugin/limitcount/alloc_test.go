//go:build !race

package limitcount_test

import (
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// A request allocates nothing once its key is in the table: passing or
// rejected, for every key type, alone or in a group. (A key's first
// request allocates its table entry.)
func TestAllocs(t *testing.T) {
	raw := "GET /get?k=v HTTP/1.1\r\nHost: example.com\r\nX-User: ann\r\n\r\n"
	for _, tt := range []struct{ name, conf string }{
		{"remote_addr", `{"count":1000000000,"time_window":60}`},
		{"header", `{"count":1000000000,"time_window":60,"key":"http_x_user"}`},
		{"var_combination", `{"count":1000000000,"time_window":60,"key_type":"var_combination","key":"$remote_addr $http_x_user $arg_k"}`},
		{"constant", `{"count":1000000000,"time_window":60,"key_type":"constant","key":"k"}`},
		{"group", `{"count":1000000000,"time_window":60,"group":"g"}`},
		{"rejected", `{"count":1,"time_window":60,"rejected_msg":"no"}`},
		{"sliding", `{"count":1000000000,"time_window":60,"window_type":"sliding"}`},
		{"sliding rejected", `{"count":1,"time_window":60,"window_type":"sliding"}`},
		{"count and window from variables", `{"count":"${http_x_quota ?? 1000000000}","time_window":"${arg_w ?? 60}"}`},
		{"rules", `{"rules":[{"count":1000000000,"time_window":60,"key":"$http_x_user"},{"count":"${arg_n ?? 1000000000}","time_window":60,"key":"$arg_k","header_prefix":"k"}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch := build(t, `{"limit-count":`+tt.conf+`}`)
			r := plugintest.NewRequest(raw, "10.0.0.1:5000")
			now := time.Now()
			run := func() {
				c := r.Reset(ch)
				c.Start = now
				c.Request()
				c.Log()
			}
			run()
			if n := testing.AllocsPerRun(500, run); n != 0 {
				t.Errorf("%.1f allocs per request, want 0", n)
			}
		})
	}
}
