//go:build !race

package basicauth_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/basicauth"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// The pass path allocates nothing: decoding, the lookup, hiding, and the
// anonymous fallback.
func TestPassAllocs(t *testing.T) {
	reg := plugintest.Registry(t, basicauth.Def)
	cons := map[string]string{"johndoe": `{"basic-auth":{"username":"johndoe","password":"john-key"}}`, "anon": `{}`}
	for _, tt := range []struct{ name, route, req string }{
		{"valid", `{"basic-auth":{}}`, head(basic("johndoe:john-key"))},
		{"with white space", `{"basic-auth":{}}`, head(basic("john doe :john-key"))},
		{"hide", `{"basic-auth":{"hide_credentials":true}}`, head(basic("johndoe:john-key"))},
		{"anonymous", `{"basic-auth":{"anonymous_consumer":"anon"}}`, head(basic("johndoe:wrong"))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: tt.route, Consumers: cons})
			r := plugintest.NewRequest(tt.req, "127.0.0.1:5000")
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
