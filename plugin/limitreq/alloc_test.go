//go:build !race

package limitreq_test

import (
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// A request allocates nothing once its key has a bucket: passing, paused
// or rejected.
func TestAllocs(t *testing.T) {
	raw := "GET /get HTTP/1.1\r\nHost: example.com\r\nX-User: ann\r\n\r\n"
	for _, tt := range []struct{ name, conf string }{
		{"pass", `{"rate":1000000000,"burst":0,"key":"remote_addr"}`},
		{"pass/var_combination", `{"rate":1000000000,"burst":0,"key_type":"var_combination","key":"$remote_addr $http_x_user"}`},
		{"rejected", `{"rate":1,"burst":0,"key":"remote_addr","rejected_msg":"no"}`},
		{"paused", `{"rate":1,"burst":1000000,"key":"http_x_user"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch := build(t, `{"limit-req":`+tt.conf+`}`)
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
