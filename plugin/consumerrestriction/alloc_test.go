//go:build !race

package consumerrestriction_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/consumerrestriction"
	"github.com/sluice-gateway/sluice/plugin/keyauth"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// The pass path allocates nothing, whatever the lists.
func TestPassAllocs(t *testing.T) {
	reg := plugintest.Registry(t, keyauth.Def, consumerrestriction.Def)
	for _, tt := range []struct{ name, conf string }{
		{"whitelist", `{"whitelist":["jane","jack"]}`},
		{"blacklist", `{"blacklist":["rose"]}`},
		{"methods", `{"allowed_by_methods":[{"user":"jack","methods":["POST","GET"]}]}`},
		{"group", `{"type":"consumer_group_id","whitelist":["vip"]}`},
		{"route", `{"type":"route_id","whitelist":["1"]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.Route = `{"key-auth":{},"consumer-restriction":` + tt.conf + `}`
			ch := plugintest.MustBuild(t, reg, cfg)
			r := plugintest.NewRequest(req("GET", "jack-key"), "127.0.0.1:5000")
			run := func() {
				if res := r.Run(ch); res.Stopped() {
					t.Fatalf("stopped: %d %s", res.Status, res.Body)
				}
			}
			run()
			if n := testing.AllocsPerRun(200, run); n != 0 {
				t.Errorf("%.1f allocs per request, want 0", n)
			}
		})
	}
}
