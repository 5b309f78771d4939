package core

import (
	"reflect"
	"strings"
	"testing"
)

const pluginResources = `
upstreams:
  - {id: up, nodes: {"127.0.0.1:7001": 1}}
services:
  - id: inline
    hosts: [a.example, b.example]
    enable_websocket: true
    upstream: {nodes: {"127.0.0.1:7002": 1}}
    plugins:
      limit-count: {count: 2, time_window: 60, nested: {1x: [a, {b: c}]}}
  - id: byref
    upstream_id: up
  - id: bare
    plugins: {prometheus: {}}
consumer_groups:
  - {id: gold, plugins: {limit-count: {count: 100}}}
consumers:
  - {username: zed, plugins: {key-auth: {key: z}}}
  - {username: jack_1-x, group_id: gold, plugins: {key-auth: {key: j}}}
global_rules:
  - {id: "2", plugins: {prometheus: {}}}
  - {id: "1", plugins: {request-id: {}}}
plugin_configs:
  - {id: pc, name: common, plugins: {cors: {}}}
plugin_metadata:
  - id: http-logger
    log_format: {host: "$host", "@timestamp": "$time_iso8601"}
  - {id: empty}
routes:
  - {id: own, uri: /own, upstream: {nodes: {"127.0.0.1:7003": 1}}, service_id: inline}
  - {id: ref, uri: /ref, upstream_id: up, service_id: inline}
  - {id: svc, uri: /svc, service_id: inline, plugin_config_id: pc, plugins: {key-auth: {}}}
  - {id: svcref, uri: /svcref, service_id: byref, host: c.example}
  - {id: svcbare, uri: /bare, service_id: bare, upstream_id: up, hosts: [d.example]}
stream_routes:
  - {id: st, server_port: 9100, service_id: byref, plugins: {ip-restriction: {whitelist: [127.0.0.1]}}}
`

func TestPluginResourcesYAML(t *testing.T) {
	s, err := loadRoutes(t, streamCfg, pluginResources)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Services) != 3 || s.ServiceUpstreams["inline"] == nil || s.ServiceUpstreams["byref"] != nil {
		t.Fatalf("services %v, inline upstreams %v", s.Services, s.ServiceUpstreams)
	}
	route := func(id string) *Route {
		for i := range s.Routes {
			if s.Routes[i].ID == id {
				return s.Routes[i]
			}
		}
		t.Fatalf("no route %s", id)
		return nil
	}
	upAddr := func(r *Route) string {
		us := s.RouteUpstream(r)
		if us == nil {
			return "none"
		}
		return us.Nodes().Addrs[0].String()
	}
	// route.upstream > route.upstream_id > service.upstream > service.upstream_id
	for id, want := range map[string]string{"own": "127.0.0.1:7003", "ref": "127.0.0.1:7001",
		"svc": "127.0.0.1:7002", "svcref": "127.0.0.1:7001", "svcbare": "127.0.0.1:7001"} {
		if got := upAddr(route(id)); got != want {
			t.Errorf("route %s sends to %s, want %s", id, got, want)
		}
	}
	// Hosts: the route's own, else its service's.
	for id, want := range map[string]string{"svc": "|a.example,b.example", "svcref": "c.example|", "svcbare": "|d.example", "ref": "|a.example,b.example"} {
		h, hs := s.RouteHosts(route(id))
		if got := h + "|" + strings.Join(hs, ","); got != want {
			t.Errorf("route %s hosts %q, want %q", id, got, want)
		}
	}
	if !s.RouteWebsocket(route("svc")) || s.RouteWebsocket(route("svcref")) {
		t.Errorf("enable_websocket not inherited from the service")
	}

	// Plugin configs are kept as JSON-shaped maps, non-string YAML keys included.
	lc := s.Services["inline"].Plugins["limit-count"].(map[string]any)
	if lc["count"] != 2 || !reflect.DeepEqual(lc["nested"], map[string]any{"1x": []any{"a", map[string]any{"b": "c"}}}) {
		t.Errorf("service plugin config %#v", lc)
	}
	if r := route("svc"); r.PluginConfigID != "pc" || r.Plugins["key-auth"] == nil || s.PluginConfigs["pc"].Name != "common" {
		t.Errorf("route plugins %v / plugin_config %v", r.Plugins, s.PluginConfigs["pc"])
	}

	// Consumers and global rules keep file order.
	if len(s.Consumers) != 2 || s.Consumers[0].Username != "zed" || s.Consumers[1].GroupID != "gold" || s.ConsumerGroups["gold"] == nil {
		t.Errorf("consumers %+v groups %v", s.Consumers, s.ConsumerGroups)
	}
	if len(s.GlobalRules) != 2 || s.GlobalRules[0].ID != "2" || s.GlobalRules[1].Plugins["request-id"] == nil {
		t.Errorf("global rules %+v", s.GlobalRules)
	}
	if md := s.PluginMetadata["http-logger"]; !reflect.DeepEqual(md, map[string]any{"log_format": map[string]any{"host": "$host", "@timestamp": "$time_iso8601"}}) {
		t.Errorf("plugin metadata %#v", md)
	}
	if md, ok := s.PluginMetadata["empty"]; !ok || md == nil || len(md) != 0 {
		t.Errorf("empty metadata %#v", md)
	}

	st := s.MatchStream(netip4(9100), netip4(40000))
	if st == nil || st.ServiceID != "byref" || st.Upstream.Nodes().Addrs[0].String() != "127.0.0.1:7001" || st.Plugins["ip-restriction"] == nil {
		t.Fatalf("stream route %+v", st)
	}
}

// Bad plugin-bearing resources: each error names file, line, key and reason.
func TestPluginResourceErrors(t *testing.T) {
	up := "upstreams: [{id: up, nodes: {\"127.0.0.1:1\": 1}}]\n"
	cases := []struct {
		name, body, want string
	}{
		{"route service", up + "routes:\n  - {id: r, uri: /, upstream_id: up,\n     service_id: nope}\n", `routes.yaml:4: routes[0].service_id: no service with id "nope"`},
		{"route plugin_config", up + "routes:\n  - {id: r, uri: /, upstream_id: up, plugin_config_id: nope}\n", `routes.yaml:3: routes[0].plugin_config_id: no plugin_config with id "nope"`},
		{"consumer group", "consumers:\n  - username: jack\n    group_id: nope\n", `routes.yaml:3: consumers[0].group_id: no consumer_group with id "nope"`},
		{"service upstream", "services:\n  - {id: s, upstream_id: nope}\n", `routes.yaml:2: services[0].upstream_id: no upstream with id "nope"`},
		{"stream service", "stream_routes:\n  - {id: st, service_id: nope}\n", `routes.yaml:2: stream_routes[0].service_id: no service with id "nope"`},
		{"service without upstream", "services: [{id: s, hosts: [a.com]}]\nroutes:\n  - {id: r, uri: /, service_id: s}\n", `routes.yaml:3: routes[0]: needs upstream or upstream_id (here or in its service), or plugins that answer`},
		{"service both", up + "services:\n  - {id: s, upstream_id: up, upstream: {nodes: {\"127.0.0.1:1\": 1}}}\n", `routes.yaml:3: services[0]: set upstream or upstream_id, not both`},
		{"service inline upstream", "services:\n  - {id: s, upstream: {nodes: {\"127.0.0.1:1\": 0}}}\n", `services[0].upstream.nodes: every node has weight 0`},
		{"service dup", "services:\n  - {id: s}\n  - {id: s}\n", `routes.yaml:3: services[1].id: duplicate id "s"`},
		{"service no id", "services:\n  - {name: x}\n", `services[0].id: required`},
		{"service script", "services:\n  - {id: s, script: x}\n", `routes.yaml:2: services[0].script: not supported yet: script (Lua)`},
		{"service unknown", "services:\n  - {id: s, uri: /}\n", `routes.yaml:2: services[0].uri: unknown key`},
		{"consumer dup", "consumers:\n  - {username: a}\n  - {username: a}\n", `routes.yaml:3: consumers[1].username: duplicate username "a"`},
		{"consumer no username", "consumers:\n  - {desc: x}\n", `consumers[0].username: required`},
		{"consumer pattern", "consumers:\n  - {username: \"a.b\"}\n", `routes.yaml:2: consumers[0].username: "a.b": want letters, digits, _ and - only`},
		{"consumer id", "consumers:\n  - {id: a, username: a}\n", `consumers[0].id: unknown key`},
		{"group dup", "consumer_groups:\n  - {id: g, plugins: {cors: {}}}\n  - {id: g, plugins: {cors: {}}}\n", `routes.yaml:3: consumer_groups[1].id: duplicate id "g"`},
		{"group no plugins", "consumer_groups:\n  - {id: g}\n", `consumer_groups[0].plugins: required: at least one plugin`},
		{"global rule no plugins", "global_rules:\n  - {id: g, plugins: {}}\n", `routes.yaml:2: global_rules[0].plugins: required: at least one plugin`},
		{"global rule dup", "global_rules:\n  - {id: g, plugins: {cors: {}}}\n  - {id: g, plugins: {cors: {}}}\n", `global_rules[1].id: duplicate id "g"`},
		{"plugin config no plugins", "plugin_configs:\n  - {id: p}\n", `plugin_configs[0].plugins: required`},
		{"plugin config not object", "plugin_configs:\n  - id: p\n    plugins:\n      cors: [a]\n", `routes.yaml:4: plugin_configs[0].plugins.cors: want a mapping (the plugin's config), got a list`},
		{"route plugin null", up + "routes:\n  - {id: r, uri: /, upstream_id: up, plugins: {cors: ~}}\n", `routes[0].plugins.cors: want a mapping (the plugin's config), got null`},
		{"plugins not a mapping", up + "routes:\n  - {id: r, uri: /, upstream_id: up, plugins: [cors]}\n", `routes.yaml:3: routes[0].plugins: want a mapping, got a list`},
		{"non-string key", up + "routes:\n  - {id: r, uri: /, upstream_id: up, plugins: {cors: {1: a}}}\n", `routes.yaml:3: routes[0].plugins.cors: key 1: want a string key`},
		{"metadata dup", "plugin_metadata:\n  - {id: a}\n  - {id: a}\n", `routes.yaml:3: plugin_metadata[1].id: duplicate id "a"`},
		{"metadata no id", "plugin_metadata:\n  - {log_format: {}}\n", `plugin_metadata[0].id: required`},
		{"metadata id kind", "plugin_metadata:\n  - {id: [a]}\n", `routes.yaml:2: plugin_metadata[0].id: want the plugin's name, got a list`},
		{"metadata dup key", "plugin_metadata:\n  - {id: a, x: 1, x: 2}\n", `plugin_metadata[0].x: duplicate key`},
		{"metadata not mapping", "plugin_metadata: [a]\n", `routes.yaml:1: plugin_metadata[0]: want a mapping, got "a"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadRoutes(t, streamCfg, tc.body)
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.body)
			}
			if !IsConfigError(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}
