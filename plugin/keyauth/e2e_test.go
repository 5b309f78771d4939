package keyauth_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/consumerrestriction"
	"github.com/sluice-gateway/sluice/plugin/keyauth"
)

// echo answers with what the upstream received that matters here.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "%s user=%s apikey=%s custom=%s", r.URL.RequestURI(),
		r.Header.Get("X-Consumer-Username"), r.Header.Get("apikey"), r.Header.Get("X-Consumer-Custom-ID"))
})

// do sends a GET with the given header lines and returns "status
// WWW-Authenticate body".
func do(t *testing.T, cl *http.Client, url string, hdr ...string) string {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprint(resp.StatusCode)
	if a := resp.Header.Get("WWW-Authenticate"); a != "" {
		out += " [" + a + "]"
	}
	return out + " " + strings.TrimSpace(string(b))
}

// Through the real proxy, with real clients and a real upstream: APISIX's
// answers, what the upstream sees, hidden keys, the anonymous consumer,
// a key changed by a config reload, and consumer-restriction after it.
func TestE2E(t *testing.T) {
	up := e2e.Upstream(t, echo)
	routes := func(jackKey string) string {
		return fmt.Sprintf(`
upstreams:
  - {id: up, nodes: {%q: 1}}
consumers:
  - {username: jack, labels: {custom_id: "495aec6a"}, plugins: {key-auth: {key: %s}}}
  - {username: jane, plugins: {key-auth: {key: jane-key}}}
  - {username: anonymous}
routes:
  - {id: plain, uri: /plain, upstream_id: up, plugins: {key-auth: {}}}
  - {id: hide, uri: /hide, upstream_id: up, plugins: {key-auth: {hide_credentials: true}}}
  - {id: anon, uri: /anon, upstream_id: up, plugins: {key-auth: {anonymous_consumer: anonymous}}}
  - id: jack-only
    uri: /jack-only
    upstream_id: up
    plugins:
      key-auth: {query: auth}
      consumer-restriction: {whitelist: [jack]}
`, up, jackKey)
	}
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{keyauth.Def, consumerrestriction.Def}, Workers: 2, Routes: routes("jack-key")})
	cl := e2e.Client()
	const (
		missing = `401 [apikey realm="key"] {"message":"Missing API key in request"}`
		invalid = `401 [apikey realm="key"] {"message":"Invalid API key in request"}`
	)
	for _, tt := range []struct {
		name, path string
		hdr        []string
		want       string
	}{
		{"header", "/plain", []string{"apikey", "jack-key"}, "200 /plain user=jack apikey=jack-key custom=495aec6a"},
		{"query", "/plain?a=1&apikey=jane-key", nil, "200 /plain?a=1&apikey=jane-key user=jane apikey= custom="},
		{"missing", "/plain", nil, missing},
		{"invalid", "/plain", []string{"apikey", "nope"}, invalid},
		{"forged identity headers", "/plain", []string{"apikey", "jane-key", "X-Consumer-Username", "jack", "X-Consumer-Custom-ID", "1"},
			"200 /plain user=jane apikey=jane-key custom="},
		{"hidden header", "/hide", []string{"apikey", "jack-key"}, "200 /hide user=jack apikey= custom=495aec6a"},
		{"hidden query", "/hide?x=1&apikey=jack-key&y=2", nil, "200 /hide?x=1&y=2 user=jack apikey= custom=495aec6a"},
		{"anonymous", "/anon", nil, "200 /anon user=anonymous apikey= custom="},
		{"anonymous, bad key", "/anon", []string{"apikey", "nope"}, "200 /anon user=anonymous apikey=nope custom="},
		{"restricted: jack", "/jack-only?auth=jack-key", nil, "200 /jack-only?auth=jack-key user=jack apikey= custom=495aec6a"},
		{"restricted: jane", "/jack-only?auth=jane-key", nil, `403 {"message":"The consumer_name is forbidden."}`},
	} {
		if got := do(t, cl, n.URL+tt.path, tt.hdr...); got != tt.want {
			t.Errorf("%s: %q\n%*s want %q", tt.name, got, len(tt.name), "", tt.want)
		}
	}

	// A new key for jack: the old one stops working on the next request.
	if err := n.Reload(routes("jack-new")); err != nil {
		t.Fatal(err)
	}
	if got := do(t, cl, n.URL+"/plain", "apikey", "jack-key"); got != invalid {
		t.Errorf("old key after reload: %q", got)
	}
	if got := do(t, cl, n.URL+"/plain", "apikey", "jack-new"); !strings.HasPrefix(got, "200 /plain user=jack") {
		t.Errorf("new key after reload: %q", got)
	}
	// A key two consumers share is refused; the last config keeps serving.
	if err := n.Reload(routes("jane-key")); err == nil || !strings.Contains(err.Error(), "has the same key") {
		t.Errorf("duplicate key: %v", err)
	}
	if got := do(t, cl, n.URL+"/plain", "apikey", "jack-new"); !strings.HasPrefix(got, "200 /plain user=jack") {
		t.Errorf("after a refused config: %q", got)
	}
}
