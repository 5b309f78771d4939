package basicauth_test

import (
	"strconv"
	"testing"

	"github.com/sluice-gateway/sluice/plugin/basicauth"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// BenchmarkBasicAuth: one request through a basic-auth route, 1,000
// consumers.
func BenchmarkBasicAuth(b *testing.B) {
	reg := plugintest.Registry(b, basicauth.Def)
	cons := map[string]string{}
	for i := range 1000 {
		n := strconv.Itoa(i)
		cons["user"+n] = `{"basic-auth":{"username":"user` + n + `","password":"password-` + n + `"}}`
	}
	ua := "User-Agent: curl/8\r\nAccept: */*\r\n"
	for _, bb := range []struct{ name, route, req string }{
		{"valid", `{"basic-auth":{}}`, head(ua, basic("user500:password-500"))},
		{"hide", `{"basic-auth":{"hide_credentials":true}}`, head(ua, basic("user500:password-500"))},
		{"wrong_password", `{"basic-auth":{}}`, head(ua, basic("user500:password-501"))},
		{"missing", `{"basic-auth":{}}`, head(ua)},
	} {
		b.Run(bb.name, func(b *testing.B) {
			ch := plugintest.MustBuild(b, reg, plugintest.Config{Route: bb.route, Consumers: cons})
			r := plugintest.NewRequest(bb.req, "127.0.0.1:5000")
			b.ReportAllocs()
			for b.Loop() {
				r.Run(ch)
			}
		})
	}
}
