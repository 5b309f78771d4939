package jwtauth_test

import (
	"strconv"
	"testing"

	"github.com/sluice-gateway/sluice/plugin/jwtauth"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// BenchmarkJWTAuth: one request with a valid token through a jwt-auth
// route, per algorithm; "first" is a token not seen before (nothing
// remembered: the signature is verified every time), "seen" the same
// token again (the common case: clients reuse their token).
func BenchmarkJWTAuth(b *testing.B) {
	cons := consumerConfigs()
	for i := range 1000 {
		cons["user"+strconv.Itoa(i)] = `{"jwt-auth":{"key":"key-` + strconv.Itoa(i) + `","secret":"s"}}`
	}
	ua := "User-Agent: curl/8\r\nAccept: */*\r\n"
	for _, alg := range []string{"HS256", "HS512", "RS256", "PS256", "ES256", "ES384", "EdDSA"} {
		tok := sign(alg, signer(alg), claims(alg+"-key", exp(3600), nbf(-10)))
		for _, mode := range []string{"first", "seen"} {
			if alg[0] == 'H' && mode == "seen" {
				continue // HMAC tokens are not remembered
			}
			b.Run(alg+"/"+mode, func(b *testing.B) {
				if mode == "first" {
					defer jwtauth.SetVerifiedEntries(jwtauth.SetVerifiedEntries(0))
				}
				ch := plugintest.MustBuild(b, plugintest.Registry(b, jwtauth.Def), plugintest.Config{Route: `{"jwt-auth":{}}`, Consumers: cons})
				r := plugintest.NewRequest(head("/a", ua, bearer(tok)), "127.0.0.1:5000")
				b.ReportAllocs()
				for b.Loop() {
					if res := r.Run(ch); res.Stopped() {
						b.Fatal(res.Status)
					}
				}
			})
		}
	}
	b.Run("missing", func(b *testing.B) {
		ch := plugintest.MustBuild(b, plugintest.Registry(b, jwtauth.Def), plugintest.Config{Route: `{"jwt-auth":{}}`, Consumers: cons})
		r := plugintest.NewRequest(head("/a", ua), "127.0.0.1:5000")
		b.ReportAllocs()
		for b.Loop() {
			r.Run(ch)
		}
	})
}
