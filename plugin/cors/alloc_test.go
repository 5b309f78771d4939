//go:build !race

package cors_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/cors"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

func TestAllocs(t *testing.T) {
	reg := plugintest.Registry(t, cors.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"cors":{"allow_origins":"http://a.com,http://b.com","allow_origins_by_regex":[".*\\.test\\.com$"]}}`})
	for _, origin := range []string{"http://b.com", "http://x.test.com"} {
		r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\nOrigin: "+origin+"\r\n\r\n", "127.0.0.1:1")
		run := func() {
			c := r.Reset(ch)
			c.Request()
			c.Status = 200
			c.HeaderFilter()
		}
		run()
		if n := testing.AllocsPerRun(200, run); n != 0 {
			t.Errorf("%s: %.1f allocs per request, want 0", origin, n)
		}
	}
}
