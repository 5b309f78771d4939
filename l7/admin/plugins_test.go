package admin

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/core"
)

// Every plugin-bearing kind through the Admin API and back out of etcd: the
// values a write stores are what the etcd provider builds the data plane
// from.
func TestAdminPluginKinds(t *testing.T) {
	cfg := testConfig(t)
	cli := startEtcd(t, cfg)
	a := newAPI(t, Options{Config: cfg, Client: cli, Keys: testKeys})

	a.expect("PUT", "/apisix/admin/upstreams/u", `{"nodes":{"127.0.0.1:7001":1}}`, 201, "")
	a.expect("PUT", "/apisix/admin/services/s", `{"upstream_id":"u","hosts":["a.example"],"enable_websocket":true,"plugins":{"limit-count":{"count":2}}}`, 201, `"key":"/sluice/services/s"`)
	a.expect("PUT", "/apisix/admin/services/inline", `{"upstream":{"nodes":{"127.0.0.1:7002":1}}}`, 201, "")
	a.expect("GET", "/apisix/admin/services/s", "", 200, `"hosts":["a.example"]`)
	a.expect("PATCH", "/apisix/admin/services/s/plugins", `{"limit-count":{"count":5}}`, 200, `"count":5`)
	out := a.expect("POST", "/apisix/admin/services", `{"plugins":{"prometheus":{}}}`, 201, "")
	gen := out["value"].(map[string]any)["id"].(string)
	a.expect("DELETE", "/apisix/admin/services/"+gen, "", 200, "")

	a.expect("PUT", "/apisix/admin/consumer_groups/gold", `{"plugins":{"limit-count":{"count":100}}}`, 201, "")
	// Consumers: APISIX's PUT to the collection with the username in the
	// body, and PUT to /consumers/<username>.
	a.expect("PUT", "/apisix/admin/consumers", `{"username":"jack","group_id":"gold","plugins":{"key-auth":{"key":"k"}}}`, 201, `"key":"/sluice/consumers/jack"`)
	out = a.expect("PUT", "/apisix/admin/consumers/anna", `{"plugins":{"key-auth":{"key":"a"}}}`, 201, `"username":"anna"`)
	if _, has := out["value"].(map[string]any)["id"]; has {
		t.Fatalf("a consumer got an id: %v", out["value"])
	}
	a.expect("PUT", "/apisix/admin/consumers/anna", `{"username":"bob"}`, 400, "wrong consumer username")
	a.expect("PUT", "/apisix/admin/consumers", `{"plugins":{}}`, 400, "missing consumer username")
	a.expect("PUT", "/apisix/admin/consumers/a.b", `{}`, 400, "invalid username")
	a.expect("POST", "/apisix/admin/consumers", `{"username":"x"}`, 405, "POST cannot create a consumer")
	a.expect("PATCH", "/apisix/admin/consumers/anna", `{"desc":"Anna"}`, 200, `"desc":"Anna"`)
	a.expect("GET", "/apisix/admin/consumers", "", 200, `"total":2`)

	a.expect("PUT", "/apisix/admin/global_rules/1", `{"plugins":{"prometheus":{}}}`, 201, "")
	a.expect("PUT", "/apisix/admin/global_rules/2", `{"plugins":{}}`, 400, "/plugins: minProperties")
	a.expect("PUT", "/apisix/admin/plugin_configs/pc", `{"name":"common","plugins":{"cors":{}}}`, 201, "")
	a.expect("PUT", "/apisix/admin/plugin_metadata/http-logger", `{"log_format":{"host":"$host"}}`, 201, `"id":"http-logger"`)
	a.expect("POST", "/apisix/admin/plugin_metadata", `{"log_format":{}}`, 405, "POST cannot create plugin metadata")
	a.expect("GET", "/apisix/admin/plugin_metadata/http-logger", "", 200, `"log_format":{"host":"$host"}`)

	a.expect("PUT", "/apisix/admin/routes/r", `{"uri":"/r","service_id":"s","plugin_config_id":"pc","plugins":{"key-auth":{}}}`, 201, "")
	a.expect("PUT", "/apisix/admin/stream_routes/st", `{"server_port":9100,"service_id":"inline","plugins":{"limit-conn":{"conn":1}}}`, 201, "")

	// What the writes stored builds, through the etcd provider, into the
	// snapshot the plugin engine compiles.
	var store core.Store
	p := core.NewEtcdProvider(cfg, cli, &store, 1, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Load(ctx); err != nil {
		t.Fatal(err)
	}
	snap := store.Load()
	if len(snap.Routes) != 1 {
		t.Fatalf("routes %+v", snap.Routes)
	}
	r := snap.Routes[0]
	if us := snap.RouteUpstream(r); us == nil || us.Nodes().Addrs[0].String() != "127.0.0.1:7001" {
		t.Errorf("route r's upstream through service s: %+v", us)
	}
	if _, hs := snap.RouteHosts(r); len(hs) != 1 || !snap.RouteWebsocket(r) {
		t.Errorf("route r inherits hosts %v, websocket %v", hs, snap.RouteWebsocket(r))
	}
	if lc := snap.Services["s"].Plugins["limit-count"].(map[string]any); lc["count"] != 5 {
		t.Errorf("patched service plugins %v", lc)
	}
	if len(snap.Consumers) != 2 || snap.Consumers[0].Username != "jack" || snap.Consumers[0].GroupID != "gold" || snap.Consumers[1].Desc != "Anna" {
		t.Errorf("consumers %+v", snap.Consumers)
	}
	if len(snap.GlobalRules) != 1 || snap.PluginConfigs["pc"] == nil || snap.ConsumerGroups["gold"] == nil {
		t.Errorf("rules %v configs %v groups %v", snap.GlobalRules, snap.PluginConfigs, snap.ConsumerGroups)
	}
	if md := snap.PluginMetadata["http-logger"]; len(md) != 1 || md["log_format"] == nil {
		t.Errorf("plugin metadata %#v", md)
	}
	st := snap.MatchStream(netipAP("127.0.0.1:9100"), netipAP("127.0.0.1:40000"))
	if st == nil || st.Upstream.Nodes().Addrs[0].String() != "127.0.0.1:7002" || st.Plugins["limit-conn"] == nil {
		t.Errorf("stream route through service inline: %+v", st)
	}
}

// A reference to something missing is a 400 at write time; what is still
// referred to cannot be deleted, and can once the referrer has gone.
func TestAdminPluginReferences(t *testing.T) {
	cfg := testConfig(t)
	a := newAPI(t, Options{Config: cfg, Client: startEtcd(t, cfg), Keys: testKeys})

	a.expect("PUT", "/apisix/admin/services/s", `{"upstream_id":"nope"}`, 400, "failed to fetch upstream info by upstream id [nope]")
	a.expect("PUT", "/apisix/admin/routes/r", `{"uri":"/","service_id":"nope"}`, 400, "failed to fetch service info by service id [nope]")
	a.expect("PUT", "/apisix/admin/routes/r", `{"uri":"/","upstream":{"nodes":{"127.0.0.1:1":1}},"plugin_config_id":"nope"}`, 400, "failed to fetch plugin_config info by plugin_config id [nope]")
	a.expect("PUT", "/apisix/admin/consumers/jack", `{"group_id":"nope"}`, 400, "failed to fetch consumer_group info by consumer_group id [nope]")
	a.expect("PUT", "/apisix/admin/stream_routes/st", `{"service_id":"nope"}`, 400, "failed to fetch service info by service id [nope]")

	a.expect("PUT", "/apisix/admin/upstreams/u", `{"nodes":{"127.0.0.1:7001":1}}`, 201, "")
	a.expect("PUT", "/apisix/admin/services/bare", `{"desc":"no upstream, no plugins"}`, 201, "")
	a.expect("PUT", "/apisix/admin/services/both", `{"upstream_id":"u","upstream":{"nodes":{"127.0.0.1:1":1}}}`, 400, "invalid service: set upstream or upstream_id, not both")
	a.expect("PUT", "/apisix/admin/routes/r", `{"uri":"/","service_id":"bare"}`, 400, "needs upstream or upstream_id (here or in its service)")
	a.expect("PUT", "/apisix/admin/services/s", `{"upstream_id":"u"}`, 201, "")
	a.expect("PUT", "/apisix/admin/plugin_configs/pc", `{"plugins":{"cors":{}}}`, 201, "")
	a.expect("PUT", "/apisix/admin/consumer_groups/g", `{"plugins":{"limit-count":{}}}`, 201, "")
	// The route's upstream comes from its service's upstream_id: the write
	// check builds the whole chain.
	a.expect("PUT", "/apisix/admin/routes/r", `{"uri":"/","service_id":"s","plugin_config_id":"pc"}`, 201, "")
	a.expect("PUT", "/apisix/admin/stream_routes/st", `{"service_id":"s"}`, 201, "")
	a.expect("PUT", "/apisix/admin/consumers/jack", `{"group_id":"g"}`, 201, "")

	a.expect("DELETE", "/apisix/admin/upstreams/u", "", 400, "can not delete this upstream, service [s] is still using it now")
	a.expect("DELETE", "/apisix/admin/services/s", "", 400, "can not delete this service, route [r] is still using it now")
	a.expect("DELETE", "/apisix/admin/plugin_configs/pc", "", 400, "can not delete this plugin_config, route [r] is still using it now")
	a.expect("DELETE", "/apisix/admin/consumer_groups/g", "", 400, "can not delete this consumer_group, consumer [jack] is still using it now")

	a.expect("DELETE", "/apisix/admin/routes/r", "", 200, "")
	a.expect("DELETE", "/apisix/admin/plugin_configs/pc", "", 200, "")
	a.expect("DELETE", "/apisix/admin/services/s", "", 400, "stream_route [st]")
	a.expect("DELETE", "/apisix/admin/stream_routes/st", "", 200, "")
	a.expect("DELETE", "/apisix/admin/services/s", "", 200, "")
	a.expect("DELETE", "/apisix/admin/upstreams/u", "", 200, "")
	a.expect("PATCH", "/apisix/admin/consumers/jack", `{"group_id":null}`, 200, "")
	a.expect("DELETE", "/apisix/admin/consumer_groups/g", "", 200, "")
	a.expect("DELETE", "/apisix/admin/consumers/jack", "", 200, `"key":"/sluice/consumers/jack"`)
}

func netipAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
