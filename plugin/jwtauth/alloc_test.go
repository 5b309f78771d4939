//go:build !race

package jwtauth_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/jwtauth"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

var algs = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// The pass path allocates nothing: parsing, the claims, the lookup, the
// HMAC algorithms (a keyed state from a pool), and a public-key token seen
// before (remembered by its SHA-256). Hiding, and the anonymous fallback,
// too.
func TestPassAllocs(t *testing.T) {
	cons := consumerConfigs()
	cons["anon"] = `{}`
	for _, alg := range algs {
		tok := sign(alg, signer(alg), claims(alg+"-key", exp(3600), nbf(-10)))
		allocs(t, alg, cons, `{"jwt-auth":{}}`, head("/a", bearer(tok)), 0)
	}
	tok := sign("HS256", signer("HS256"), claims("HS256-key", exp(3600)))
	allocs(t, "query, hidden", cons, `{"jwt-auth":{"hide_credentials":true}}`, head("/a?jwt="+tok+"&b=1"), 0)
	allocs(t, "cookie, hidden", cons, `{"jwt-auth":{"hide_credentials":true}}`, head("/a", "Cookie: a=1; jwt="+tok+"\r\n"), 0)
	allocs(t, "anonymous", cons, `{"jwt-auth":{"anonymous_consumer":"anon"}}`, head("/a", bearer(forge(tok))), 0)
}

// firstSightAllocs is what verifying a public-key token costs the first
// time (or every time, with nothing remembered): the allocations are
// inside the standard library — crypto/rsa's and crypto/ecdsa's
// big-number arithmetic, and crypto/ecdsa's ASN.1 parse of the signature
// this package encodes from JWS's r||s — measured with Go 1.26. The test
// holds them to these ceilings, so growth is noticed.
var firstSightAllocs = map[string]float64{
	"HS256": 0, "HS384": 0, "HS512": 0, "EdDSA": 0,
	"RS256": 9, "RS384": 9, "RS512": 9,
	"PS256": 13, "PS384": 13, "PS512": 13,
	"ES256": 10, "ES384": 17, "ES512": 17,
}

func TestFirstSightAllocs(t *testing.T) {
	defer jwtauth.SetVerifiedEntries(jwtauth.SetVerifiedEntries(0))
	cons := consumerConfigs()
	for _, alg := range algs {
		tok := sign(alg, signer(alg), claims(alg+"-key", exp(3600), nbf(-10)))
		allocs(t, alg, cons, `{"jwt-auth":{}}`, head("/a", bearer(tok)), firstSightAllocs[alg])
	}
}

func allocs(t *testing.T, name string, cons map[string]string, route, req string, budget float64) {
	t.Run(name, func(t *testing.T) {
		ch := plugintest.MustBuild(t, plugintest.Registry(t, jwtauth.Def), plugintest.Config{Route: route, Consumers: cons})
		r := plugintest.NewRequest(req, "127.0.0.1:5000")
		run := func() {
			if res := r.Run(ch); res.Stopped() {
				t.Fatalf("stopped: %d %s", res.Status, res.Body)
			}
		}
		run()
		n := testing.AllocsPerRun(50, run)
		if n > budget {
			t.Errorf("%.1f allocs per request, want at most %.0f", n, budget)
		}
		t.Logf("%.1f allocs per request", n)
	})
}
