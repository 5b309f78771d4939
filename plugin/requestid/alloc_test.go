//go:build !race

package requestid_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/requestid"
)

func TestPassAllocs(t *testing.T) {
	reg := plugintest.Registry(t, requestid.Def)
	for conf := range formats {
		ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"request-id":` + conf + `}`})
		r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "127.0.0.1:1")
		run := func() {
			c := r.Reset(ch)
			c.Request()
			c.HeaderFilter()
		}
		run()
		if n := testing.AllocsPerRun(200, run); n != 0 {
			t.Errorf("%s: %.1f allocs per request, want 0", conf, n)
		}
	}
}
