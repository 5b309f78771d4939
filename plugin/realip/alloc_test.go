//go:build !race

package realip_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/realip"
)

func TestAllocs(t *testing.T) {
	reg := plugintest.Registry(t, realip.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"real-ip":{"source":"http_x_forwarded_for","recursive":true,"trusted_addresses":["127.0.0.1","10.0.0.0/8"]}}`})
	for _, xff := range []string{"1.1.1.1, 10.0.0.1", "[2001:db8::1]:80"} {
		r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: "+xff+"\r\n\r\n", "127.0.0.1:1")
		run := func() { r.Run(ch) }
		run()
		if n := testing.AllocsPerRun(200, run); n != 0 {
			t.Errorf("%s: %.1f allocs per request, want 0", xff, n)
		}
	}
}
