package keyauth_test

import (
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin/keyauth"
	"github.com/sluice-gateway/sluice/plugin/limitcount"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// APISIX's documented examples for key-auth (docs/en/latest/plugins/
// key-auth.md), one test each: the configs as the doc writes them (a
// consumer's credential is written on the consumer, as sluice has no
// credential resources) and the answers the doc shows.

// "Implement Key Authentication on Route". The page shows "Missing API
// key found in request" for a request without a key; APISIX's code (and
// its test suite) answer "Missing API key in request", as sluice does. The
// ingress-controller variant of the example writes the plugin as
// {"_meta": {"disable": false}}.
func TestDocKeyAuthOnRoute(t *testing.T) {
	cfg := plugintest.Config{Consumers: map[string]string{"jack": `{"key-auth": {"key": "jack-key"}}`}}
	for _, route := range []string{`{"key-auth": {}}`, `{"key-auth": {"_meta": {"disable": false}}}`} {
		run(t, cfg, []check{
			{name: "valid", route: route, req: head("/anything", "apikey: jack-key\r\n"), want: []string{"X-Consumer-Username: jack\r\n"}},
			{name: "invalid", route: route, req: head("/anything", "apikey: wrong-key\r\n"), status: 401, body: invalid, want: []string{challenge}},
			{name: "none", route: route, req: head("/anything"), status: 401, body: missing, want: []string{challenge}},
		})
	}
}

// "Hide Authentication Information From Upstream".
func TestDocHideCredentials(t *testing.T) {
	cfg := plugintest.Config{Consumers: map[string]string{"jack": `{"key-auth": {"key": "jack-key"}}`}}
	run(t, cfg, []check{
		{name: "not hidden", route: `{"key-auth": {"hide_credentials": false}}`, req: head("/anything?apikey=jack-key"),
			want: []string{"GET /anything?apikey=jack-key "}},
		{name: "hidden", route: `{"key-auth": {"hide_credentials": true}}`, req: head("/anything?apikey=jack-key"),
			want: []string{"GET /anything "}},
	})
}

// "Demonstrate Priority of Keys in Header and Query".
func TestDocHeaderOverQuery(t *testing.T) {
	cfg := plugintest.Config{Consumers: map[string]string{"jack": `{"key-auth": {"key": "jack-key"}}`}}
	route := `{"key-auth": {"query": "auth"}}`
	run(t, cfg, []check{
		{name: "valid", route: route, req: head("/anything?auth=jack-key")},
		{name: "invalid", route: route, req: head("/anything?auth=wrong-key"), status: 401, body: invalid},
		{name: "header wins", route: route, req: head("/anything?auth=wrong-key", "apikey: jack-key\r\n")},
	})
}

// "Add Consumer Custom ID to Header".
func TestDocCustomID(t *testing.T) {
	cfg := plugintest.Config{
		Consumers: map[string]string{"jack": `{"key-auth": {"key": "jack-key"}}`},
		Labels:    map[string]map[string]string{"jack": {"custom_id": "495aec6a"}},
	}
	run(t, cfg, []check{
		{name: "headers", route: `{"key-auth": {}}`, req: head("/anything?apikey=jack-key"),
			want: []string{"X-Consumer-Username: jack\r\n", "X-Consumer-Custom-ID: 495aec6a\r\n"}},
	})
}

// "Rate Limit with Anonymous Consumer", with the real limit-count on the
// consumers: of five requests each, jack gets 3 through and 2 answered
// 429, anonymous (no key) 1 and 4.
func TestDocAnonymousConsumer(t *testing.T) {
	reg := plugintest.Registry(t, keyauth.Def, limitcount.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{
		Route: `{"key-auth": {"anonymous_consumer": "anonymous"}}`,
		Consumers: map[string]string{
			"jack": `{"limit-count": {"count": 3, "time_window": 30, "rejected_code": 429, "policy": "local"},
			          "key-auth": {"key": "jack-key"}}`,
			"anonymous": `{"limit-count": {"count": 1, "time_window": 30, "rejected_code": 429, "policy": "local"}}`,
		},
	})
	// One instant for every request: the 30 s window cannot turn mid-test.
	now := time.Now()
	for _, tt := range []struct {
		name, req     string
		ok, throttled int
	}{
		{"jack", head("/anything", "apikey: jack-key\r\n"), 3, 2},
		{"anonymous", head("/anything"), 1, 4},
	} {
		ok, throttled := 0, 0
		for range 5 {
			r := plugintest.NewRequest(tt.req, "127.0.0.1:5000")
			c := r.Reset(ch)
			c.Start = now
			switch res := c.Request(); res.Status {
			case 0:
				ok++
			case 429:
				throttled++
			default:
				t.Fatalf("%s: %d %s", tt.name, res.Status, res.Body)
			}
		}
		if ok != tt.ok || throttled != tt.throttled {
			t.Errorf("%s: 200: %d, 429: %d; the doc shows 200: %d, 429: %d", tt.name, ok, throttled, tt.ok, tt.throttled)
		}
	}
}
