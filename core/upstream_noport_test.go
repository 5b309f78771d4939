package core

import (
	"fmt"
	"strings"
	"testing"
)

// A node given without a port takes the scheme's, as APISIX fills it (the
// doc pages' "nodes": {"httpbin.org": 1}); a stream's node needs one.
func TestNodeWithoutPort(t *testing.T) {
	s, err := loadRoutes(t, streamCfg, `
upstreams:
  - {id: map, nodes: {"127.0.0.1": 1, "[::1]": 2, "127.0.0.2:8080": 3}}
  - {id: list, scheme: http, nodes: [{host: 127.0.0.3}, {host: 127.0.0.4, port: 81, weight: 2}]}
routes:
  - {id: r, uri: /get, upstream: {nodes: {"127.0.0.5": 1}}}
`)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		"map":  "[127.0.0.1:80 [::1]:80 127.0.0.2:8080] [1 2 3]",
		"list": "[127.0.0.3:80 127.0.0.4:81] [1 2]",
	} {
		ns := s.Upstreams[id].Nodes()
		if got := fmt.Sprint(ns.Addrs, " ", ns.Weights); got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
	if ns := s.RouteUpstream(s.Routes[0]).Nodes(); fmt.Sprint(ns.Addrs) != "[127.0.0.5:80]" {
		t.Errorf("route's inline upstream: %v", ns.Addrs)
	}
	for _, tc := range []struct{ body, want string }{
		{"upstreams: [{id: u, scheme: tcp, nodes: [{host: 127.0.0.1}]}]\n", "upstreams[0].nodes[0]: a port is required with scheme tcp"},
		{"upstreams: [{id: u, nodes: {\"::1\": 1}}]\n", `upstreams[0].nodes.::1: want "host:port"`},
		{"stream_routes: [{id: a, upstream: {nodes: {\"127.0.0.1\": 1}}}]\n", `stream_routes[0].upstream.nodes.127.0.0.1: want "host:port"`},
	} {
		if _, err := loadRoutes(t, streamCfg, tc.body); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.body, err, tc.want)
		}
	}
}
