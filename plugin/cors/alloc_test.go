//go:build !race

package cors_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/cors"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

func TestAllocs(t *testing.T) {
	reg := plugintest.Registry(t, cors.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{
		Route:    `{"cors":{"allow_origins":"http://a.com,http://b.com","allow_origins_by_metadata":["k"],"timing_allow_origins":"**","allow_headers":"**"}}`,
		Metadata: map[string]string{"cors": `{"allow_origins":{"k":"http://c.com,http://d.com"}}`},
	})
	rx := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"cors":{"allow_origins_by_regex":[".*\\.test\\.com$"],"timing_allow_origins_by_regex":["test"]}}`})
	for _, tt := range []struct {
		ch     *plugin.Chain
		origin string
	}{{ch, "http://b.com"}, {ch, "http://d.com"}, {rx, "http://x.test.com"}} {
		ch, origin := tt.ch, tt.origin
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
