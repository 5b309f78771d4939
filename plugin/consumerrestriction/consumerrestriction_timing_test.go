package consumerrestriction_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/consumerrestriction"
	"github.com/sluice-gateway/sluice/plugin/keyauth"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// BenchmarkConsumerRestriction: a request through key-auth alone, and
// through key-auth with consumer-restriction (the difference is the
// restriction's cost).
func BenchmarkConsumerRestriction(b *testing.B) {
	reg := plugintest.Registry(b, keyauth.Def, consumerrestriction.Def)
	for _, bb := range []struct{ name, route, key string }{
		{"key-auth_only", `{"key-auth":{}}`, "jack-key"},
		{"whitelist", `{"key-auth":{},"consumer-restriction":{"whitelist":["jane","jack","rose"]}}`, "jack-key"},
		{"methods", `{"key-auth":{},"consumer-restriction":{"allowed_by_methods":[{"user":"jack","methods":["POST","GET"]}]}}`, "jack-key"},
		{"rejected", `{"key-auth":{},"consumer-restriction":{"blacklist":["jack"]}}`, "jack-key"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			cfg := base
			cfg.Route = bb.route
			ch := plugintest.MustBuild(b, reg, cfg)
			r := plugintest.NewRequest(req("GET", bb.key), "127.0.0.1:5000")
			b.ReportAllocs()
			for b.Loop() {
				r.Run(ch)
			}
		})
	}
}
