package basicauth_test

import (
	"testing"

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

// "Rate Limit with Anonymous Consumer" (limit-count's own behaviour is
// that plugin's test; here it is accepted on the consumers).
func TestDocAnonymousConsumer(t *testing.T) {
	cfg := plugintest.Config{Consumers: map[string]string{
		"johndoe": `{"limit-count": {"count": 3, "time_window": 30, "rejected_code": 429, "policy": "local"},
		             "basic-auth": {"username": "johndoe", "password": "john-key"}}`,
		"anonymous": `{"limit-count": {"count": 1, "time_window": 30, "rejected_code": 429, "policy": "local"}}`,
	}}
	route := `{"basic-auth": {"anonymous_consumer": "anonymous"}}`
	run(t, cfg, []check{
		{name: "johndoe", route: route, req: head(basic("johndoe:john-key")), want: []string{"X-Consumer-Username: johndoe\r\n"}},
		{name: "anonymous", route: route, req: head(), want: []string{"X-Consumer-Username: anonymous\r\n"}},
	})
}
