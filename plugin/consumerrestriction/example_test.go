package consumerrestriction_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/consumerrestriction"
	"github.com/sluice-gateway/sluice/plugin/keyauth"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// APISIX's documented examples for consumer-restriction (docs/en/latest/
// plugins/consumer-restriction.md), one test each, with the consumers'
// key-auth credentials written on the consumers (sluice has no credential
// resources) and the answers the doc shows.

var doeConsumers = map[string]string{
	"JohnDoe": `{"key-auth": {"key": "john-key"}}`,
	"JaneDoe": `{"key-auth": {"key": "jane-key"}}`,
}

// "Restrict Access by Consumers".
func TestDocRestrictByConsumers(t *testing.T) {
	route := `{"key-auth": {}, "consumer-restriction": {"whitelist": ["JaneDoe"]}}`
	run(t, plugintest.Config{Consumers: doeConsumers}, []check{
		{name: "JohnDoe", plugins: route, key: "john-key", status: 403, body: `{"message":"The consumer_name is forbidden."}`},
		{name: "JaneDoe", plugins: route, key: "jane-key"},
	})
}

// "Restrict Access by Consumers and HTTP Methods".
func TestDocRestrictByMethods(t *testing.T) {
	route := `{"key-auth": {}, "consumer-restriction": {"allowed_by_methods": [
		{"user": "JohnDoe", "methods": ["GET"]},
		{"user": "JaneDoe", "methods": ["POST"]}]}}`
	run(t, plugintest.Config{Consumers: doeConsumers}, []check{
		{name: "JohnDoe POST", plugins: route, method: "POST", key: "john-key", status: 403, body: `{"message":"The consumer_name is forbidden."}`},
		{name: "JohnDoe GET", plugins: route, method: "GET", key: "john-key"},
		{name: "JaneDoe POST", plugins: route, method: "POST", key: "jane-key"},
		{name: "JaneDoe GET", plugins: route, method: "GET", key: "jane-key", status: 403},
	})
}

// "Restricting by Service ID": key-auth on the services, the restriction
// on the consumer (merged in once key-auth identified it).
func TestDocRestrictByServiceID(t *testing.T) {
	reg := plugintest.Registry(t, keyauth.Def, consumerrestriction.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{
		Service: `{"key-auth": {}}`,
		Consumers: map[string]string{"JohnDoe": `{
			"consumer-restriction": {"type": "service_id", "whitelist": ["srv-1"]},
			"key-auth": {"key": "john-key"}}`},
	})
	for _, tt := range []struct {
		service string
		status  int
		body    string
	}{{"srv-1", 0, ""}, {"srv-2", 403, `{"message":"The service_id is forbidden."}`}} {
		r := plugintest.NewRequest(req("GET", "john-key"), "127.0.0.1:5000")
		c := r.Reset(ch)
		c.ServiceID = tt.service
		if res := c.Request(); res.Status != tt.status || string(res.Body) != tt.body {
			t.Errorf("%s: got %d %s, want %d %s", tt.service, res.Status, res.Body, tt.status, tt.body)
		}
	}
}
