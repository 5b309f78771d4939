package core

import (
	"strings"
	"testing"
	"time"
)

// keepalive_pool takes config.yaml's http.upstream_keepalive_pool for what
// an upstream leaves unset; retry_timeout is read in seconds.
func TestKeepalivePoolDefaultsAndOverrides(t *testing.T) {
	cfg := streamCfg + "http: {upstream_keepalive_pool: {size: 8, idle_timeout: 30}}\n"
	s, err := loadRoutes(t, cfg, `
upstreams:
  - {id: plain, nodes: {"127.0.0.1:1": 1}}
  - {id: own, nodes: {"127.0.0.1:1": 1}, retry_timeout: 2.5, keepalive_pool: {idle_timeout: 0, requests: 5}}
`)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]KeepalivePolicy{
		"plain": {Size: 8, Idle: 30 * time.Second, Requests: 1000},
		"own":   {Size: 8, Idle: 0, Requests: 5},
	} {
		if got := s.Upstreams[id].Keepalive; got != want {
			t.Errorf("%s: keepalive %+v, want %+v", id, got, want)
		}
	}
	if rt := s.Upstreams["own"].RetryTimeout; rt != 2500*time.Millisecond {
		t.Errorf("retry_timeout compiled as %v", rt)
	}
	if rt := s.Upstreams["plain"].RetryTimeout; rt != 0 {
		t.Errorf("unset retry_timeout compiled as %v", rt)
	}
}

func TestUpstreamPolicyErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"upstreams: [{id: u, nodes: {\"127.0.0.1:1\": 1}, keepalive_pool: {size: 0}}]\n", "routes.yaml:1: upstreams[0].keepalive_pool.size: want at least 1, got 0"},
		{"upstreams: [{id: u, nodes: {\"127.0.0.1:1\": 1}, keepalive_pool: {idle_timeout: -1}}]\n", "upstreams[0].keepalive_pool.idle_timeout: must not be negative"},
		{"upstreams: [{id: u, nodes: {\"127.0.0.1:1\": 1}, keepalive_pool: {requests: 0}}]\n", "upstreams[0].keepalive_pool.requests: want at least 1"},
		{"upstreams: [{id: u, nodes: {\"127.0.0.1:1\": 1}, keepalive_pool: {max: 3}}]\n", "upstreams[0].keepalive_pool.max: unknown key (known here: idle_timeout, requests, size)"},
		{"routes: [{id: r, uri: /, upstream: {nodes: {\"127.0.0.1:1\": 1}, retry_timeout: -1}}]\n", "routes[0].upstream.retry_timeout: must not be negative"},
	} {
		_, err := loadRoutes(t, streamCfg, tc.body)
		if err == nil || !IsConfigError(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.body, err, tc.want)
		}
	}
	for _, tc := range []struct{ body, want string }{
		{"http: {upstream_keepalive_pool: {size: 0}}\n", "http.upstream_keepalive_pool.size: want at least 1, got 0"},
		{"http: {upstream_keepalive_pool: {requests: -1}}\n", "http.upstream_keepalive_pool.requests: want at least 1"},
	} {
		_, err := LoadConfig(writeFile(t, t.TempDir(), "config.yaml", "config: {provider: yaml}\n"+tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.body, err, tc.want)
		}
	}
}
