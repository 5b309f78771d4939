package basicauth_test

import (
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin/basicauth"
	"github.com/sluice-gateway/sluice/plugin/limitcount"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// APISIX's documented examples for basic-auth (docs/en/latest/plugins/
// basic-auth.md), one test each: the configs as the doc writes them (a
// consumer's credential is written on the consumer, as sluice has no
// credential resources) and the answers the doc shows.

var johndoe = map[string]string{"johndoe": `{"basic-auth": {"username": "johndoe", "password": "john-key"}}`}

// "Implement Basic Authentication on Route".
func TestDocBasicAuthOnRoute(t *testing.T) {
	route := `{"basic-auth": {}}`
	run(t, plugintest.Config{Consumers: johndoe}, []check{
		{name: "valid", route: route, req: head(basic("johndoe:john-key")),
			want: []string{"Authorization: Basic am9obmRvZTpqb2huLWtleQ==\r\n", "X-Consumer-Username: johndoe\r\n"}},
		{name: "invalid", route: route, req: head(basic("johndoe:invalid-password")), status: 401, body: invalid},
		{name: "none", route: route, req: head(), status: 401, body: missing},
	})
}

// "Hide Authentication Information From Upstream".
func TestDocHideCredentials(t *testing.T) {
	run(t, plugintest.Config{Consumers: johndoe}, []check{
		{name: "not hidden", route: `{"basic-auth": {"hide_credentials": false}}`, req: head(basic("johndoe:john-key")),
			want: []string{"Authorization: Basic am9obmRvZTpqb2huLWtleQ==\r\n"}},
		{name: "hidden", route: `{"basic-auth": {"hide_credentials": true}}`, req: head(basic("johndoe:john-key")),
			not: []string{"Authorization"}},
	})
}

// "Add Consumer Custom ID to Header".
func TestDocCustomID(t *testing.T) {
	cfg := plugintest.Config{Consumers: johndoe, Labels: map[string]map[string]string{"johndoe": {"custom_id": "495aec6a"}}}
	run(t, cfg, []check{
		{name: "headers", route: `{"basic-auth": {}}`, req: head(basic("johndoe:john-key")),
			want: []string{"X-Consumer-Username: johndoe\r\n", "X-Consumer-Custom-ID: 495aec6a\r\n"}},
	})
}

// "Rate Limit with Anonymous Consumer", with the real limit-count on the
// consumers: of five requests each, johndoe gets 3 through and 2 answered
// 429, anonymous (no credentials) 1 and 4.
func TestDocAnonymousConsumer(t *testing.T) {
	reg := plugintest.Registry(t, basicauth.Def, limitcount.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{
		Route: `{"basic-auth": {"anonymous_consumer": "anonymous"}}`,
		Consumers: map[string]string{
			"johndoe": `{"limit-count": {"count": 3, "time_window": 30, "rejected_code": 429, "policy": "local"},
			          "basic-auth": {"username": "johndoe", "password": "john-key"}}`,
			"anonymous": `{"limit-count": {"count": 1, "time_window": 30, "rejected_code": 429, "policy": "local"}}`,
		},
	})
	// One instant for every request: the 30 s window cannot turn mid-test.
	now := time.Now()
	for _, tt := range []struct {
		name, req     string
		ok, throttled int
	}{
		{"johndoe", head(basic("johndoe:john-key")), 3, 2},
		{"anonymous", head(), 1, 4},
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
