package limitconn_test

import (
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin/internal/cputime"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// BenchmarkRequest is one request's limit-conn: access and log, on a key
// seen before. "baseline" is the harness with no plugin: subtract it.
func BenchmarkRequest(b *testing.B) {
	for _, bb := range []struct{ name, conf string }{
		{"baseline", ``},
		{"pass", `{"conn":1000,"burst":0,"default_conn_delay":0.1,"key":"remote_addr"}`},
		{"pass/only_use_default_delay", `{"conn":1000,"burst":0,"default_conn_delay":0.1,"key":"remote_addr","only_use_default_delay":true}`},
		{"refused", `{"conn":1,"burst":0,"default_conn_delay":0.1,"key":"remote_addr"}`},
	} {
		b.Run(bb.name, func(b *testing.B) {
			ch := plugintest.MustBuild(b, plugintest.Registry(b), plugintest.Config{})
			if bb.conf != "" {
				ch = build(b, bb.conf)
			}
			plugintest.NewRequest(get, "10.0.0.1:1").Run(ch) // one held
			r := plugintest.NewRequest(get, "10.0.0.1:5000")
			b.ReportAllocs()
			defer cputime.PerOp(b)()
			for b.Loop() {
				c := r.Reset(ch)
				c.Start = time.Now()
				c.Request()
				c.UpstreamStart = c.Start
				c.UpstreamDone = c.Start
				c.Log()
			}
		})
	}
}
