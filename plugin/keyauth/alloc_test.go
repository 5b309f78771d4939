//go:build !race

package keyauth_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/keyauth"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// The pass path allocates nothing: key in a header or the query (escaped
// or not), hidden or not, and the anonymous fallback.
func TestPassAllocs(t *testing.T) {
	reg := plugintest.Registry(t, keyauth.Def)
	cons := map[string]string{"jack": `{"key-auth":{"key":"jack-key"}}`, "jane": `{"key-auth":{"key":"jane key"}}`, "anon": `{}`}
	for _, tt := range []struct{ name, route, req string }{
		{"header", `{"key-auth":{}}`, head("/a", "apikey: jack-key\r\n")},
		{"query", `{"key-auth":{}}`, head("/a?b=1&apikey=jack-key")},
		{"escaped query", `{"key-auth":{}}`, head("/a?api%6bey=jane+key")},
		{"hide header", `{"key-auth":{"hide_credentials":true}}`, head("/a", "apikey: jack-key\r\n")},
		{"hide query", `{"key-auth":{"hide_credentials":true}}`, head("/a?b=1&apikey=jack-key")},
		{"anonymous", `{"key-auth":{"anonymous_consumer":"anon","hide_credentials":true}}`, head("/a?apikey=x", "apikey: y\r\n")},
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
