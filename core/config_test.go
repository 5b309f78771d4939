package core

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigDefaultsAndRelativePaths(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "config.yaml", "config: {provider: yaml}\nlisten: {stream: {tcp: [\"127.0.0.1:9100\"]}}\n")
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Resolve(c.Config.YAMLPath); got != filepath.Join(dir, "routes.yaml") {
		t.Errorf("yaml_path resolves to %s", got)
	}
	if c.Admin.Listen != "127.0.0.1:9180" || c.Etcd.Prefix != "/sluice" || c.Stream.BufferSize != 64<<10 || c.SpliceMode() != SpliceAuto {
		t.Errorf("defaults not applied: %+v", c)
	}
	if len(c.Listen.HTTP) != 1 || c.Listen.HTTP[0] != "0.0.0.0:9080" {
		t.Errorf("listen.http default = %v", c.Listen.HTTP)
	}
}

// Every rejection names the file, the line, the key path and the reason.
func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"unknown key", "config: {provider: yaml}\nlisten:\n  htp: [\":80\"]\n", "config.yaml:3: listen.htp: unknown key (known here: http, stream)"},
		{"wrong kind", "config: {provider: yaml}\nworkers: [1]\n", "config.yaml:2: workers: want a int, got a list"},
		{"not an int", "config: {provider: yaml}\nworkers: many\n", `config.yaml:2: workers: want an integer, got "many"`},
		{"bad addr", "config: {provider: yaml}\nlisten: {stream: {tcp: [\"nowhere\"]}}\n", "listen.stream.tcp[0]: \"nowhere\": want ip:port"},
		{"provider", "config: {provider: consul}\n", `config.yaml:1: config.provider: want yaml or etcd, got "consul"`},
		{"bad yaml", "config: {provider: yaml\n", "config.yaml:1: invalid YAML"},
		{"duplicate", "workers: 1\nworkers: 2\n", "config.yaml:2: workers: duplicate key"},
		{"udp", "config: {provider: yaml}\nlisten: {stream: {udp: [\":53\"]}}\n", "listen.stream.udp: not supported yet: UDP stream proxying"},
		{"role", "config: {provider: yaml}\nadmin: {keys: [{name: a, key: k, role: root}]}\n", `admin.keys[0].role: want admin or viewer, got "root"`},
		{"buffer", "config: {provider: yaml}\nstream: {buffer_size: 10}\n", "stream.buffer_size: want 4096 to 16777216 bytes, got 10"},
		{"bool", "config: {provider: yaml}\netcd: {embedded: maybe}\n", `etcd.embedded: want true or false, got "maybe"`},
		{"no fsync outside", "config: {provider: etcd}\netcd: {embedded: false, endpoints: [\"http://10.0.0.1:2379\"], unsafe_no_fsync: true}\n", "etcd.unsafe_no_fsync: only for the embedded etcd"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "config.yaml", tc.body)
			_, err := LoadConfig(p)
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.body)
			}
			if !IsConfigError(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func loadRoutes(t *testing.T, cfgBody, routes string) (*Snapshot, error) {
	t.Helper()
	dir := t.TempDir()
	c, err := LoadConfig(writeFile(t, dir, "config.yaml", cfgBody))
	if err != nil {
		t.Fatal(err)
	}
	return LoadResources(c, writeFile(t, dir, "routes.yaml", routes), 2)
}

const streamCfg = "config: {provider: yaml}\nlisten: {stream: {tcp: [\"127.0.0.1:9100\", \"127.0.0.1:9101\"]}}\n"

func TestResourceErrors(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"missing upstream", "stream_routes:\n  - {id: a, server_port: 9100, upstream_id: nope}\n", `routes.yaml:2: stream_routes[0].upstream_id: no upstream with id "nope"`},
		{"no listener", "stream_routes:\n  - {id: a, server_port: 7000, upstream: {nodes: {\"127.0.0.1:1\": 1}}}\n", "stream_routes[0].server_port: no listen.stream.tcp address"},
		{"dup id", "stream_routes:\n  - {id: a, upstream: {nodes: {\"127.0.0.1:1\": 1}}}\n  - {id: a, upstream: {nodes: {\"127.0.0.1:1\": 1}}}\n", `stream_routes[1].id: duplicate id "a"`},
		{"no upstream", "stream_routes:\n  - {id: a, server_port: 9100}\n", "stream_routes[0]: needs upstream or upstream_id"},
		{"both", "upstreams: [{id: u, nodes: {\"127.0.0.1:1\": 1}}]\nstream_routes:\n  - {id: a, upstream_id: u, upstream: {nodes: {\"127.0.0.1:1\": 1}}}\n", "set upstream or upstream_id, not both"},
		{"bad node", "stream_routes:\n  - {id: a, upstream: {nodes: {\"127.0.0.1\": 1}}}\n", `stream_routes[0].upstream.nodes.127.0.0.1: want "host:port"`},
		{"weight", "stream_routes:\n  - {id: a, upstream: {nodes: {\"127.0.0.1:1\": heavy}}}\n", "want an integer weight"},
		{"zero weights", "stream_routes:\n  - {id: a, upstream: {nodes: {\"127.0.0.1:1\": 0}}}\n", "every node has weight 0"},
		{"chash no key", "upstreams:\n  - {id: u, type: chash, nodes: {\"127.0.0.1:1\": 1}}\n", `routes.yaml:2: upstreams[0].type: chash needs a key (with hash_on vars)`},
		{"chash bad var", "upstreams:\n  - {id: u, type: chash, key: request_body, nodes: {\"127.0.0.1:1\": 1}}\n", `routes.yaml:2: upstreams[0].key: unknown variable "request_body"`},
		{"chash consumer", "upstreams:\n  - {id: u, type: chash, hash_on: consumer, key: x, nodes: {\"127.0.0.1:1\": 1}}\n", `upstreams[0].hash_on: hash_on consumer is not supported yet`},
		{"chash hash_on", "upstreams:\n  - {id: u, type: chash, hash_on: body, key: x, nodes: {\"127.0.0.1:1\": 1}}\n", `upstreams[0].hash_on: want vars, header, cookie, consumer or vars_combinations, got "body"`},
		{"chash header", "upstreams:\n  - {id: u, type: chash, hash_on: header, key: \"a b\", nodes: {\"127.0.0.1:1\": 1}}\n", `upstreams[0].key: want a header name, got "a b"`},
		{"chash combination", "upstreams:\n  - {id: u, type: chash, hash_on: vars_combinations, key: \"plain\", nodes: {\"127.0.0.1:1\": 1}}\n", `upstreams[0].key: want at least one $variable in "plain"`},
		{"key without chash", "upstreams:\n  - {id: u, key: remote_addr, nodes: {\"127.0.0.1:1\": 1}}\n", `routes.yaml:2: upstreams[0].key: only used with type chash (type is roundrobin)`},
		{"hash_on without chash", "upstreams:\n  - {id: u, type: least_conn, hash_on: header, nodes: {\"127.0.0.1:1\": 1}}\n", `upstreams[0].hash_on: only used with type chash (type is least_conn)`},
		{"type", "upstreams:\n  - {id: u, type: random, nodes: {\"127.0.0.1:1\": 1}}\n", `upstreams[0].type: want roundrobin, chash, ewma or least_conn, got "random"`},
		{"unknown field", "upstreams: [{id: u, nodez: {\"127.0.0.1:1\": 1}}]\n", "upstreams[0].nodez: unknown key"},
		{"plugins", "stream_routes:\n  - {id: a, plugins: {limit-conn: 3}, upstream: {nodes: {\"127.0.0.1:1\": 1}}}\n", "routes.yaml:2: stream_routes[0].plugins.limit-conn: want a mapping (the plugin's config), got 3"},
		{"cidr", "stream_routes:\n  - {id: a, remote_addr: 10.0.0.0/33, upstream: {nodes: {\"127.0.0.1:1\": 1}}}\n", "stream_routes[0].remote_addr: want an IP or CIDR"},
		{"port", "stream_routes:\n  - {id: a, upstream: {nodes: [{host: 127.0.0.1, port: 70000}]}}\n", "stream_routes[0].upstream.nodes[0]: port 70000 is out of range"},
		{"ssls", "ssls: [{id: s}]\n", "ssls: not supported yet: ssls (TLS)"},
		{"route uri", "routes: [{id: r, upstream_id: x}]\n", "routes[0]: needs uri or uris"},
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

func TestStreamMatchAndNodes(t *testing.T) {
	s, err := loadRoutes(t, streamCfg, `
upstreams:
  - id: list
    nodes:
      - {host: 127.0.0.1, port: 7001, weight: 3}
      - {host: "::1", port: 7002}
    retries: 0
    timeout: {connect: 0.5, read: 30}
stream_routes:
  - {id: lan, server_port: 9100, remote_addr: 10.0.0.0/8, upstream_id: list}
  - {id: port, server_port: 9100, upstream: {nodes: {"127.0.0.1:7003": 1}}}
  - {id: any, upstream: {nodes: {"127.0.0.1:7004": 1}}}
`)
	if err != nil {
		t.Fatal(err)
	}
	u := s.Upstreams["list"]
	if ns := u.Nodes(); len(ns.Addrs) != 2 || ns.Weights[0] != 3 || ns.Weights[1] != 1 || ns.Tries != 1 || u.Connect.Seconds() != 0.5 || u.Read.Seconds() != 30 {
		t.Fatalf("upstream compiled as %+v", u)
	}
	check := func(local, remote, want string) {
		t.Helper()
		got := s.MatchStream(mustAP(local), mustAP(remote))
		if got == nil || got.ID != want {
			t.Errorf("%s from %s matched %v, want %s", local, remote, got, want)
		}
	}
	check("127.0.0.1:9100", "10.1.2.3:5555", "lan")
	check("127.0.0.1:9100", "192.168.0.1:5555", "port")
	check("127.0.0.1:9101", "10.1.2.3:5555", "any")
}

func mustAP(s string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		panic(err)
	}
	return ap
}
