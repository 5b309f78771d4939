//go:build !race

package iprestriction_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/iprestriction"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// The pass path allocates nothing, v4 and v6.
func TestPassAllocs(t *testing.T) {
	reg := plugintest.Registry(t, iprestriction.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"ip-restriction":{"whitelist":["10.0.0.0/8","2001:db8::/32","127.0.0.1"]}}`})
	for _, remote := range []string{"127.0.0.1:1", "[2001:db8::1]:1"} {
		r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", remote)
		run := func() {
			if res := r.Run(ch); res.Stopped() {
				t.Fatalf("stopped %d", res.Status)
			}
		}
		if n := testing.AllocsPerRun(200, run); n != 0 {
			t.Errorf("%s: %.1f allocs per request, want 0", remote, n)
		}
	}
}
