package core

import (
	"context"
	"fmt"
	"testing"
)

// The plugin-bearing kinds under APISIX's key layout: consumers keyed by
// username, plugin_metadata by plugin name. A value that refers to
// something missing is left out and the rest applies.
func TestEtcdProviderPluginKinds(t *testing.T) {
	_, cli := startTestEtcd(t)
	cfg := etcdTestConfig()
	put(t, cli, "/sluice/upstreams/u", `{"nodes":{"127.0.0.1:7001":1}}`)
	put(t, cli, "/sluice/services/s", `{"upstream_id":"u","hosts":["a.example"],"plugins":{"limit-count":{"count":2}},"create_time":1}`)
	put(t, cli, "/sluice/consumer_groups/g", `{"plugins":{"limit-count":{"count":9}}}`)
	put(t, cli, "/sluice/consumers/jack", `{"username":"jack","group_id":"g","plugins":{"key-auth":{"key":"k"}}}`)
	put(t, cli, "/sluice/consumers/anna", `{"plugins":{"key-auth":{"key":"a"}}}`) // username from the key
	put(t, cli, "/sluice/global_rules/1", `{"plugins":{"prometheus":{}}}`)
	put(t, cli, "/sluice/plugin_configs/pc", `{"plugins":{"cors":{}}}`)
	put(t, cli, "/sluice/plugin_metadata/http-logger", `{"id":"http-logger","log_format":{"host":"$host"},"update_time":5}`)
	put(t, cli, "/sluice/routes/r", `{"uri":"/r","service_id":"s","plugin_config_id":"pc"}`)
	put(t, cli, "/sluice/stream_routes/st", `{"service_id":"s","plugins":{"limit-conn":{"conn":1}}}`)
	// Left out: dangling references, a username that differs from its key.
	put(t, cli, "/sluice/routes/dangling", `{"uri":"/d","upstream_id":"u","service_id":"nope"}`)
	put(t, cli, "/sluice/consumers/lost", `{"group_id":"nope"}`)
	put(t, cli, "/sluice/consumers/liar", `{"username":"other"}`)
	put(t, cli, "/sluice/services/orphan", `{"upstream_id":"nope"}`)
	put(t, cli, "/sluice/routes/orphaned", `{"uri":"/o","service_id":"orphan"}`)

	var store Store
	p := NewEtcdProvider(cfg, cli, &store, 1, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := p.Load(ctx); err != nil {
		t.Fatal(err)
	}
	s := store.Load()
	if len(s.Routes) != 1 || s.Routes[0].ID != "r" {
		t.Fatalf("routes %+v", s.Routes)
	}
	if us := s.RouteUpstream(s.Routes[0]); us == nil || us.Nodes().Addrs[0].String() != "127.0.0.1:7001" {
		t.Fatalf("route r's upstream (through service s): %+v", us)
	}
	if _, hs := s.RouteHosts(s.Routes[0]); len(hs) != 1 || hs[0] != "a.example" {
		t.Errorf("route r hosts %v", hs)
	}
	if len(s.Consumers) != 2 || s.Consumers[0].Username != "jack" || s.Consumers[1].Username != "anna" {
		t.Errorf("consumers (creation order) %+v", s.Consumers)
	}
	if s.Services["orphan"] != nil || s.ConsumerGroups["g"] == nil || len(s.GlobalRules) != 1 || s.PluginConfigs["pc"] == nil {
		t.Errorf("services %v groups %v rules %v configs %v", s.Services, s.ConsumerGroups, s.GlobalRules, s.PluginConfigs)
	}
	if md := s.PluginMetadata["http-logger"]; len(md) != 1 || md["log_format"].(map[string]any)["host"] != "$host" {
		t.Errorf("plugin metadata %#v", md)
	}
	if st := streamTarget(&store, 9100); st != "st->127.0.0.1:7001" {
		t.Errorf("stream route through its service: %q", st)
	}

	// Watched changes: the group's consumer goes when the group's plugins
	// change shape; a fixed reference comes back.
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	put(t, cli, "/sluice/services/nope", `{"upstream_id":"u"}`)
	waitFor(t, "dangling route applied once its service exists", func() bool {
		return len(store.Load().Routes) == 2
	})
	put(t, cli, "/sluice/plugin_metadata/http-logger", `{"log_format":{"host":"$remote_addr"}}`)
	waitFor(t, "metadata change", func() bool {
		md := store.Load().PluginMetadata["http-logger"]
		return md != nil && md["log_format"].(map[string]any)["host"] == "$remote_addr"
	})
	cancel()
	<-done
}

// When a compile hook refuses one item, the others are checked on their own
// with what they refer to — transitively, so a route whose upstream comes
// from its service's upstream_id is not left out for want of it.
func TestEtcdProviderHookChecksWithReferences(t *testing.T) {
	_, cli := startTestEtcd(t)
	cfg := etcdTestConfig()
	store := Store{Compile: []func(*Snapshot) error{func(s *Snapshot) error {
		for i := range s.Routes {
			r := s.Routes[i]
			if r.URI == "/refused" {
				return fmt.Errorf("route %s: refused by the hook", r.ID)
			}
			if s.RouteUpstream(r) == nil {
				return fmt.Errorf("route %s: no upstream", r.ID)
			}
			if r.PluginConfigID != "" && s.PluginConfigs[r.PluginConfigID] == nil {
				return fmt.Errorf("route %s: no plugin config", r.ID)
			}
		}
		return nil
	}}}
	put(t, cli, "/sluice/upstreams/u", `{"nodes":{"127.0.0.1:7001":1}}`)
	put(t, cli, "/sluice/services/s", `{"upstream_id":"u"}`)
	put(t, cli, "/sluice/plugin_configs/pc", `{"plugins":{"cors":{}}}`)
	put(t, cli, "/sluice/routes/bad", `{"uri":"/refused","upstream_id":"u"}`)
	put(t, cli, "/sluice/routes/good", `{"uri":"/ok","service_id":"s","plugin_config_id":"pc"}`)
	p := NewEtcdProvider(cfg, cli, &store, 1, "")
	if err := p.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := store.Load()
	if len(s.Routes) != 1 || s.Routes[0].ID != "good" {
		t.Fatalf("routes %+v", s.Routes)
	}
}
