package admin

import (
	"testing"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/l7"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/basicauth"
	"github.com/sluice-gateway/sluice/plugin/keyauth"
	"github.com/sluice-gateway/sluice/plugin/limitcount"
)

// A consumer whose credential key another consumer holds is refused, and
// so is one with a secret reference that does not resolve: before, the
// write was stored and the data plane refused every later change.
func TestAdminConsumerCredentials(t *testing.T) {
	cfg := testConfig(t)
	reg, err := plugin.NewRegistry(nil, keyauth.Def, basicauth.Def, limitcount.Def)
	if err != nil {
		t.Fatal(err)
	}
	hooks := &l7.Plugins{Registry: reg, Config: cfg, Loops: 1}
	a := newAPI(t, Options{Config: cfg, Client: startEtcd(t, cfg), Keys: testKeys, Compile: []func(*core.Snapshot) error{hooks.Compile}})

	a.expect("PUT", "/apisix/admin/consumer_groups/g", `{"plugins":{"limit-count":{"count":10,"time_window":60}}}`, 201, "")
	a.expect("PUT", "/apisix/admin/consumers", `{"username":"jack","group_id":"g","plugins":{"key-auth":{"key":"jack-key"},"basic-auth":{"username":"jack","password":"p"}}}`, 201, "")
	a.expect("PUT", "/apisix/admin/consumers", `{"username":"jane","plugins":{"key-auth":{"key":"jack-key"}}}`, 400,
		"consumers/jane: plugins.key-auth.key: consumer jack has the same key")
	a.expect("PUT", "/apisix/admin/consumers/jane", `{"plugins":{"basic-auth":{"username":"jack","password":"other"}}}`, 400,
		"consumers/jane: plugins.basic-auth.username: consumer jack has the same username")
	a.expect("PUT", "/apisix/admin/consumers", `{"username":"jane","plugins":{"key-auth":{"key":"jane-key"}}}`, 201, "")
	// A consumer's own key, written again, is no duplicate.
	a.expect("PUT", "/apisix/admin/consumers", `{"username":"jack","group_id":"g","plugins":{"key-auth":{"key":"jack-key"}}}`, 200, "")
	a.expect("PATCH", "/apisix/admin/consumers/jane", `{"plugins":{"key-auth":{"key":"jack-key"}}}`, 400, "consumer jack has the same key")
	a.expect("PUT", "/apisix/admin/consumers", `{"username":"joe","plugins":{"key-auth":{"key":"$secret://vault/1/joe/key"}}}`, 400,
		"consumers/joe: plugins.key-auth.key: $secret://vault/1/joe/key: secret manager references are not supported")
	a.expect("PUT", "/apisix/admin/consumers", `{"username":"joe","plugins":{"key-auth":{"key":"$env://SLUICE_TEST_UNSET_ADMIN"}}}`, 400,
		"consumers/joe: plugins.key-auth.key: $env://SLUICE_TEST_UNSET_ADMIN: environment variable")
}
