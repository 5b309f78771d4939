package limitreq_test

import (
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin/internal/cputime"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// BenchmarkAccess is one request's limit-req on a key with a bucket.
// "baseline" is the harness with no plugin: subtract it.
func BenchmarkAccess(b *testing.B) {
	raw := "GET /get HTTP/1.1\r\nHost: example.com\r\nX-User: ann\r\n\r\n"
	for _, bb := range []struct{ name, conf string }{
		{"baseline", ``},
		{"pass", `{"rate":1000000000,"burst":0,"key":"remote_addr"}`},
		{"pass/var_combination", `{"rate":1000000000,"burst":0,"key_type":"var_combination","key":"$remote_addr $http_x_user"}`},
		{"rejected", `{"rate":1,"burst":0,"key":"remote_addr"}`},
	} {
		b.Run(bb.name, func(b *testing.B) {
			route := `{}`
			if bb.conf != "" {
				route = `{"limit-req":` + bb.conf + `}`
			}
			ch := build(b, route)
			r := plugintest.NewRequest(raw, "10.0.0.1:5000")
			b.ReportAllocs()
			defer cputime.PerOp(b)()
			for b.Loop() {
				c := r.Reset(ch)
				c.Start = time.Now()
				c.Request()
			}
		})
	}
}
