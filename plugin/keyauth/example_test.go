package keyauth_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// APISIX's documented examples for key-auth (docs/en/latest/plugins/
// key-auth.md), one test each: the configs as the doc writes them (a
// consumer's credential is written on the consumer, as sluice has no
// credential resources) and the answers the doc shows.

// "Implement Key Authentication on Route".
func TestDocKeyAuthOnRoute(t *testing.T) {
	cfg := plugintest.Config{Consumers: map[string]string{"jack": `{"key-auth": {"key": "jack-key"}}`}}
	run(t, cfg, []check{
		{name: "valid", route: `{"key-auth": {}}`, req: head("/anything", "apikey: jack-key\r\n")},
		{name: "invalid", route: `{"key-auth": {}}`, req: head("/anything", "apikey: wrong-key\r\n"), status: 401, body: invalid},
		{name: "none", route: `{"key-auth": {}}`, req: head("/anything"), status: 401, body: missing},
	})
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

// "Rate Limit with Anonymous Consumer" (limit-count's own behaviour is
// that plugin's test; here it is accepted on the consumers).
func TestDocAnonymousConsumer(t *testing.T) {
	cfg := plugintest.Config{Consumers: map[string]string{
		"jack": `{"limit-count": {"count": 3, "time_window": 30, "rejected_code": 429, "policy": "local"},
		          "key-auth": {"key": "jack-key"}}`,
		"anonymous": `{"limit-count": {"count": 1, "time_window": 30, "rejected_code": 429, "policy": "local"}}`,
	}}
	route := `{"key-auth": {"anonymous_consumer": "anonymous"}}`
	run(t, cfg, []check{
		{name: "jack", route: route, req: head("/anything", "apikey: jack-key\r\n"), want: []string{"X-Consumer-Username: jack\r\n"}},
		{name: "anonymous", route: route, req: head("/anything"), want: []string{"X-Consumer-Username: anonymous\r\n"}},
	})
}
