package jwtauth_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/jwtauth"
)

// Through the real proxy with real clients: tokens of three algorithms in
// the header, query and cookie, expired, not yet valid and forged tokens,
// alg confusion, and what the upstream sees with hide_credentials.
func TestE2E(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s user=%s auth=%s cookie=%s", r.URL.RequestURI(), r.Header.Get("X-Consumer-Username"),
			r.Header.Get("Authorization"), r.Header.Get("Cookie"))
	}))
	k := keys()
	js := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{jwtauth.Def}, Workers: 2, Routes: fmt.Sprintf(`
upstreams:
  - {id: up, nodes: {%q: 1}}
consumers:
  - {username: jack, plugins: {jwt-auth: {key: jack-key, secret: jack-hs256-secret-that-is-very-long}}}
  - {username: rosa, plugins: {jwt-auth: {key: rosa-key, algorithm: RS256, public_key: %s}}}
  - {username: erin, plugins: {jwt-auth: {key: erin-key, algorithm: ES256, public_key: %s, lifetime_grace_period: 60}}}
routes:
  - {id: plain, uri: /plain, upstream_id: up, plugins: {jwt-auth: {}}}
  - {id: hide, uri: /hide, upstream_id: up, plugins: {jwt-auth: {hide_credentials: true}}}
`, up, js(pubPEM(&k.rsa.PublicKey)), js(pubPEM(&k.p256.PublicKey)))})
	cl := e2e.Client()

	hs := []byte("jack-hs256-secret-that-is-very-long")
	jack := sign("HS256", hs, claims("jack-key", exp(600)))
	rosa := sign("RS256", k.rsa, claims("rosa-key", exp(600)))
	erin := sign("ES256", k.p256, claims("erin-key", exp(-30)))
	const (
		failed  = `401 [Bearer realm="jwt"] {"message":"failed to verify jwt"}`
		missing = `401 [Bearer realm="jwt"] {"message":"Missing JWT token in request"}`
	)
	for _, tt := range []struct {
		name, path, auth, cookie, want string
	}{
		{"HS256 header", "/plain", "Bearer " + jack, "", "200 /plain user=jack auth=Bearer " + jack + " cookie="},
		{"RS256 header", "/plain", rosa, "", "200 /plain user=rosa auth=" + rosa + " cookie="},
		{"RS256 again (remembered)", "/plain", rosa, "", "200 /plain user=rosa auth=" + rosa + " cookie="},
		{"ES256 within its grace period", "/plain", "Bearer " + erin, "", "200 /plain user=erin auth=Bearer " + erin + " cookie="},
		{"query", "/plain?jwt=" + jack, "", "", "200 /plain?jwt=" + jack + " user=jack auth= cookie="},
		{"cookie", "/plain", "", "a=1; jwt=" + rosa, "200 /plain user=rosa auth= cookie=a=1; jwt=" + rosa},
		{"missing", "/plain", "", "", missing},
		{"expired", "/plain", sign("HS256", hs, claims("jack-key", exp(-1))), "", failed},
		{"expired past the grace period", "/plain", sign("ES256", k.p256, claims("erin-key", exp(-90))), "", failed},
		{"not yet valid", "/plain", sign("HS256", hs, claims("jack-key", nbf(60))), "", failed},
		{"forged", "/plain", forge(rosa), "", failed},
		{"changed claims", "/plain", swapPayload(rosa, claims("rosa-key", exp(6000))), "", failed},
		{"alg confusion", "/plain", sign("HS256", []byte(pubPEM(&k.rsa.PublicKey)), claims("rosa-key", exp(600))), "", failed},
		{"unknown key", "/plain", sign("HS256", hs, claims("nobody")), "", `401 [Bearer realm="jwt"] {"message":"Invalid user key in JWT token"}`},
		{"garbage", "/plain", "Bearer x.y", "", `401 [Bearer realm="jwt"] {"message":"JWT token invalid"}`},
		{"hidden header", "/hide", "Bearer " + jack, "", "200 /hide user=jack auth= cookie="},
		{"hidden query", "/hide?a=1&jwt=" + jack, "", "", "200 /hide?a=1 user=jack auth= cookie="},
		{"hidden cookie", "/hide", "", "a=1; jwt=" + jack + "; b=2", "200 /hide user=jack auth= cookie=a=1; b=2"},
	} {
		req, _ := http.NewRequest("GET", n.URL+tt.path, nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		if tt.cookie != "" {
			req.Header.Set("Cookie", tt.cookie)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := fmt.Sprint(resp.StatusCode)
		if a := resp.Header.Get("WWW-Authenticate"); a != "" {
			got += " [" + a + "]"
		}
		got += " " + strings.TrimSpace(string(b))
		if got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}
