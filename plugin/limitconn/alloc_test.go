//go:build !race

package limitconn_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/limitconn"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// A request or stream allocates nothing once its key is in the table:
// entering, leaving (with the latency update), refused, or paused.
func TestAllocs(t *testing.T) {
	for _, tt := range []struct{ name, conf string }{
		{"pass", `{"conn":1000,"burst":0,"default_conn_delay":0.1,"key":"remote_addr"}`},
		{"pass/var_combination", `{"conn":1000,"burst":0,"default_conn_delay":0.1,"key_type":"var_combination","key":"$remote_addr $http_x_user"}`},
		{"refused", `{"conn":1,"burst":0,"default_conn_delay":0.1,"key":"remote_addr","rejected_msg":"no"}`},
		{"paused", `{"conn":1,"burst":10,"default_conn_delay":0.1,"key":"remote_addr"}`},
		{"rules", `{"default_conn_delay":0.1,"rules":[{"conn":"${http_x_conn ?? 1000}","burst":0,"key":"$remote_addr"},{"conn":1000,"burst":1,"key":"${http_x_user}"}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch := build(t, tt.conf)
			hold := plugintest.NewRequest(get, "10.0.0.1:1")
			hold.Run(ch) // one in flight throughout
			r := plugintest.NewRequest(get, "10.0.0.1:5000")
			run := func() {
				c := r.Reset(ch)
				c.Start = time.Now()
				if res := c.Request(); res.Delay > 0 {
					c.Request()
				}
				c.UpstreamStart = c.Start
				c.UpstreamDone = c.Start.Add(time.Millisecond)
				c.Log()
			}
			run()
			if n := testing.AllocsPerRun(500, run); n != 0 {
				t.Errorf("%.1f allocs per request, want 0", n)
			}
		})
	}
	t.Run("stream", func(t *testing.T) {
		reg := plugintest.Registry(t, limitconn.Def)
		ch, err := reg.NewBuild(nil).StreamChain(plugin.Layer{Owner: "stream_routes/1", Plugins: plugintest.JSON(t, `{"limit-conn":{"conn":10,"burst":0,"default_conn_delay":1,"key":"remote_addr"}}`)})
		if err != nil {
			t.Fatal(err)
		}
		c := new(plugin.Ctx)
		run := func() {
			c.Reset(ch)
			c.Remote = netip.MustParseAddrPort("10.0.0.1:1")
			if c.Preread().Stopped() {
				t.Fatal("refused")
			}
			c.Log()
		}
		run()
		if n := testing.AllocsPerRun(500, run); n != 0 {
			t.Errorf("%.1f allocs per stream, want 0", n)
		}
	})
}
