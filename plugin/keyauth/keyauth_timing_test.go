package keyauth_test

import (
	"strconv"
	"testing"

	"github.com/sluice-gateway/sluice/plugin/keyauth"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// BenchmarkKeyAuth: one request through a key-auth route, 1,000 consumers.
func BenchmarkKeyAuth(b *testing.B) {
	reg := plugintest.Registry(b, keyauth.Def)
	cons := map[string]string{}
	for i := range 1000 {
		cons["user"+strconv.Itoa(i)] = `{"key-auth":{"key":"key-` + strconv.Itoa(i) + `"}}`
	}
	for _, bb := range []struct{ name, route, req string }{
		{"header", `{"key-auth":{}}`, head("/a", "User-Agent: curl/8\r\nAccept: */*\r\napikey: key-500\r\n")},
		{"query", `{"key-auth":{}}`, head("/a?b=1&apikey=key-500", "User-Agent: curl/8\r\nAccept: */*\r\n")},
		{"hide_query", `{"key-auth":{"hide_credentials":true}}`, head("/a?b=1&apikey=key-500", "User-Agent: curl/8\r\nAccept: */*\r\n")},
		{"missing", `{"key-auth":{}}`, head("/a", "User-Agent: curl/8\r\nAccept: */*\r\n")},
		// the harness alone (request reset, an empty chain): subtract it
		{"no_plugin", `{}`, head("/a", "User-Agent: curl/8\r\nAccept: */*\r\napikey: key-500\r\n")},
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
