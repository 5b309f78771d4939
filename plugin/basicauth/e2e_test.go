package basicauth_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/basicauth"
)

// Through the real proxy with net/http's own basic auth: APISIX's answers
// and challenge, what the upstream sees, the hidden header, and the
// anonymous consumer.
func TestE2E(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s user=%s auth=%s", r.URL.Path, r.Header.Get("X-Consumer-Username"), r.Header.Get("Authorization"))
	}))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{basicauth.Def}, Workers: 2, Routes: fmt.Sprintf(`
upstreams:
  - {id: up, nodes: {%q: 1}}
consumers:
  - {username: johndoe, plugins: {basic-auth: {username: johndoe, password: john-key}}}
  - {username: anonymous}
routes:
  - {id: plain, uri: /plain, upstream_id: up, plugins: {basic-auth: {}}}
  - {id: hide, uri: /hide, upstream_id: up, plugins: {basic-auth: {hide_credentials: true, realm: sluice}}}
  - {id: anon, uri: /anon, upstream_id: up, plugins: {basic-auth: {anonymous_consumer: anonymous}}}
`, up)})
	cl := e2e.Client()
	const challenge = `[Basic realm="basic"] `
	for _, tt := range []struct {
		name, path, user, pass, raw string
		want                        string
	}{
		{"valid", "/plain", "johndoe", "john-key", "", "200 /plain user=johndoe auth=Basic am9obmRvZTpqb2huLWtleQ=="},
		{"wrong password", "/plain", "johndoe", "invalid-password", "", "401 " + challenge + `{"message":"Invalid user authorization"}`},
		{"unknown user", "/plain", "jack", "john-key", "", "401 " + challenge + `{"message":"Invalid user authorization"}`},
		{"missing", "/plain", "", "", "", "401 " + challenge + `{"message":"Missing authorization in request"}`},
		{"not basic", "/plain", "", "", "Bearer x", "401 " + challenge + `{"message":"Invalid authorization in request"}`},
		{"hidden", "/hide", "johndoe", "john-key", "", "200 /hide user=johndoe auth="},
		{"realm", "/hide", "", "", "", `401 [Basic realm="sluice"] {"message":"Missing authorization in request"}`},
		{"anonymous", "/anon", "", "", "", "200 /anon user=anonymous auth="},
	} {
		req, _ := http.NewRequest("GET", n.URL+tt.path, nil)
		if tt.user != "" {
			req.SetBasicAuth(tt.user, tt.pass)
		}
		if tt.raw != "" {
			req.Header.Set("Authorization", tt.raw)
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
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
