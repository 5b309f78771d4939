package prometheus_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/keyauth"
	"github.com/sluice-gateway/sluice/plugin/prometheus"
)

// Through the real proxy: key-auth and prometheus on a route (APISIX's
// headline pair), a consumer, a service with a name, real clients and a
// real upstream. Each answer is counted with the labels APISIX gives it.
func TestE2E(t *testing.T) {
	e := prometheus.NewExporter()
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "hello")
	}))
	n := e2e.Start(t, e2e.Options{
		Workers: 2,
		Plugins: []plugin.Def{keyauth.Def, prometheus.NewDef(e)},
		Routes: fmt.Sprintf(`
services:
  - id: s1
    name: shop
    upstream: {nodes: {%q: 1}}
routes:
  - id: r1
    name: hello
    uris: ["/hello", "/missing"]
    host: example.com
    service_id: s1
    plugins:
      key-auth: {}
      prometheus: {prefer_name: true}
consumers:
  - username: jack
    plugins:
      key-auth: {key: auth-one}
`, up),
	})
	base := served(t, e, n.Registry)
	cl := e2e.Client()
	do := func(path, key string, want int) {
		t.Helper()
		rq, _ := http.NewRequest("GET", n.URL+path, nil)
		rq.Host = "example.com"
		if key != "" {
			rq.Header.Set("apikey", key)
		}
		res, err := cl.Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("GET %s key %q: %d, want %d", path, key, res.StatusCode, want)
		}
	}
	for range 4 {
		do("/hello", "auth-one", 200)
	}
	do("/missing", "auth-one", 404)
	do("/hello", "wrong", 401)
	do("/hello", "", 401)

	// The route has two uris: matched_uri is "" (the router does not say
	// which matched); its one host is matched_host.
	lbl := func(code, consumer, node string) string {
		return key("apisix_http_status", "code="+code, "route=hello", "matched_uri=", "matched_host=example.com",
			"service=shop", "consumer="+consumer, "node="+node)
	}
	upIP := strings.Split(up, ":")[0]
	want := map[string]float64{
		lbl("200", "jack", upIP): 4,
		lbl("404", "jack", upIP): 1,
		lbl("401", "", ""):       2,
		key("apisix_http_latency_count", "type=upstream", "route=hello", "service=shop", "consumer=jack", "node="+upIP): 5,
		key("apisix_http_latency_count", "type=request", "route=hello", "service=shop", "consumer=", "node="):           2,
		key("apisix_http_requests_total"): 7,
	}
	var m map[string]float64
	// Log hooks run after the answer is out: wait for the last one.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m = scrape(t, base); m[key("apisix_http_requests_total")] == 7 {
			break
		}
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	// Bandwidth: the requests' heads in, the answers out.
	in := m[key("apisix_bandwidth", "type=ingress", "route=hello", "service=shop", "consumer=jack", "node="+upIP)]
	out := m[key("apisix_bandwidth", "type=egress", "route=hello", "service=shop", "consumer=jack", "node="+upIP)]
	if in < 5*60 || out < 5*100 {
		t.Errorf("bandwidth in %v out %v: want at least 5 request heads and 5 responses", in, out)
	}
	if t.Failed() {
		for k, v := range m {
			if strings.HasPrefix(k, "apisix_") {
				t.Log(k, v)
			}
		}
	}
}

// The examples of APISIX's prometheus page (docs/en/latest/plugins/
// prometheus.md, 3.18), sent as the page sends them (config.yaml's
// plugin_attr, route bodies, plugin_metadata; upstreams on loopback),
// with the samples the page shows.
func TestDocExamplesThroughProxy(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	upIP := strings.Split(up, ":")[0]
	get := func(n *e2e.Node, path string) {
		t.Helper()
		res, err := e2e.Client().Get(n.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	// waitFor scrapes until the sample is there (log hooks trail answers).
	waitFor := func(base, sample string) map[string]float64 {
		t.Helper()
		var m map[string]float64
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if m = scrape(t, base); m[sample] > 0 {
				return m
			}
		}
		for k := range m {
			if strings.HasPrefix(k, "apisix_http_status") || strings.HasPrefix(k, "apisix_stream") {
				t.Log(k)
			}
		}
		t.Fatalf("no %s", sample)
		return nil
	}

	t.Run("Get APISIX Metrics", func(t *testing.T) {
		e := prometheus.NewExporter()
		n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{prometheus.NewDef(e)},
			Config: "plugin_attr:\n  prometheus:\n    export_addr:\n      ip: 0.0.0.0\n",
			Routes: `routes: [{"id": "1", "uri": "/get", "plugins": {"prometheus": {}}, "upstream": {"nodes": {"` + up + `": 1}}}]` + "\n"})
		if got := n.Config.PrometheusAddr(); got != "0.0.0.0:9091" {
			t.Errorf("export_addr %s", got)
		}
		base := served(t, e, n.Registry) // on a free loopback port, not 0.0.0.0:9091
		get(n, "/get")
		m := waitFor(base, key("apisix_bandwidth", "type=egress", "route=1", "service=", "consumer=", "node="+upIP))
		if m[key("apisix_bandwidth", "type=ingress", "route=1", "service=", "consumer=", "node="+upIP)] == 0 {
			t.Error("no ingress bandwidth")
		}
	})

	t.Run("Expose APISIX Metrics on Public API Endpoint", func(t *testing.T) {
		// enable_export_server: false is refused by config.yaml's loader
		// (core's TestPluginAttrPrometheus); public-api is not a plugin here.
		n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{prometheus.NewDef(prometheus.NewExporter())}, Routes: "routes: []\n"})
		err := n.Reload(`routes: [{"id": "prometheus-metrics", "uri": "/apisix/prometheus/metrics", "plugins": {"public-api": {}}}]` + "\n")
		if err == nil || !strings.Contains(err.Error(), "public-api") {
			t.Errorf("public-api: %v", err)
		}
	})

	t.Run("Monitor Upstream Health Statuses", func(t *testing.T) {
		// The route is accepted and counted; apisix_upstream_status itself
		// is not exported (docs/plugins.md).
		e := prometheus.NewExporter()
		n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{prometheus.NewDef(e)}, Routes: `routes: [{
			"id": "prometheus-route", "uri": "/get", "plugins": {"prometheus": {}},
			"upstream": {"type": "roundrobin", "nodes": {"` + up + `": 1},
				"checks": {"active": {"timeout": 5, "http_path": "/status", "healthy": {"interval": 2, "successes": 1}, "unhealthy": {"interval": 1, "http_failures": 2}},
					"passive": {"healthy": {"http_statuses": [200, 201], "successes": 3}, "unhealthy": {"http_statuses": [500], "http_failures": 3, "tcp_failures": 3}}}}}]` + "\n"})
		base := served(t, e, n.Registry)
		get(n, "/get")
		waitFor(base, key("apisix_http_status", "code=200", "route=prometheus-route", "matched_uri=/get", "matched_host=", "service=", "consumer=", "node="+upIP))
	})

	t.Run("Add Extra Labels for Metrics", func(t *testing.T) {
		e := prometheus.NewExporter()
		n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{prometheus.NewDef(e)}, Config: `plugin_attr:
  prometheus:
    metrics:
      http_status:
        extra_labels:
          - upstream_addr: $upstream_addr
          - route_name: $route_name
`, Routes: `routes: [{"id": "prometheus-route", "uri": "/get", "name": "extra-label", "plugins": {"prometheus": {}}, "upstream": {"nodes": {"` + up + `": 1}}}]` + "\n"})
		base := served(t, e, n.Registry)
		get(n, "/get")
		waitFor(base, key("apisix_http_status", "code=200", "route=prometheus-route", "matched_uri=/get", "matched_host=", "service=", "consumer=",
			"node="+upIP, "upstream_addr="+up, "route_name=extra-label"))
	})

	t.Run("Reduce Metric Cardinality by Disabling Labels", func(t *testing.T) {
		e := prometheus.NewExporter()
		n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{prometheus.NewDef(e)}, Routes: `
routes: [{"id": "prometheus-route", "uri": "/get", "plugins": {"prometheus": {}}, "upstream": {"nodes": {"` + up + `": 1}}}]
plugin_metadata: [{"id": "prometheus", "disabled_labels": {"http_status": ["node", "consumer"], "http_latency": ["node"]}}]
`})
		base := served(t, e, n.Registry)
		get(n, "/get")
		m := waitFor(base, key("apisix_http_status", "code=200", "route=prometheus-route", "matched_uri=/get", "matched_host=", "service=", "consumer=", "node="))
		if m[key("apisix_bandwidth", "type=egress", "route=prometheus-route", "service=", "consumer=", "node="+upIP)] == 0 {
			t.Error("bandwidth lost its node label, which only http_status and http_latency disable")
		}
		if m[key("apisix_http_latency_count", "type=request", "route=prometheus-route", "service=", "consumer=", "node=")] != 1 {
			t.Error("http_latency kept its node label")
		}
	})

	t.Run("Monitor TCP/UDP Traffic with Prometheus", func(t *testing.T) {
		e := prometheus.NewExporter()
		echo := tcpEcho(t)
		n := e2e.Start(t, e2e.Options{Stream: true, Plugins: []plugin.Def{prometheus.NewDef(e)},
			Routes: `stream_routes: [{"id": "prometheus-route", "plugins": {"prometheus": {}}, "upstream": {"type": "roundrobin", "nodes": {"` + echo + `": 1}}}]` + "\n"})
		base := served(t, e, n.Registry)
		c, err := net.Dial("tcp", n.StreamAddr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "hello")
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
			t.Fatalf("echo: %q %v", buf, err)
		}
		m := waitFor(base, key("apisix_stream_active_connections", "listen_addr="+n.StreamAddr))
		if m[key("apisix_stream_connection_total", "route=prometheus-route")] != 1 {
			t.Errorf("stream_connection_total %v", m[key("apisix_stream_connection_total", "route=prometheus-route")])
		}
		c.Close()
		m = waitFor(base, key("apisix_stream_status", "code=200", "listen_addr="+n.StreamAddr, "node="+echo))
		for _, s := range [][2]string{{"ingress", "downstream"}, {"egress", "upstream"}, {"ingress", "upstream"}, {"egress", "downstream"}} {
			if got := m[key("apisix_stream_bandwidth", "listen_addr="+n.StreamAddr, "type="+s[0], "side="+s[1])]; got != 5 {
				t.Errorf("stream_bandwidth %s %s = %v, want 5", s[0], s[1], got)
			}
		}
		if got := m[key("apisix_stream_active_connections", "listen_addr="+n.StreamAddr)]; got != 0 {
			t.Errorf("active after close: %v", got)
		}
	})
}

// tcpEcho is a TCP server on loopback that echoes what it reads.
func tcpEcho(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// metric_prefix and default_buckets from config.yaml; request variables
// in extra labels read in access, so a streamed body cannot spoil them.
func TestAttrThroughProxy(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "hello")
	}))
	e := prometheus.NewExporter()
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{prometheus.NewDef(e)}, Config: `plugin_attr:
  prometheus:
    metric_prefix: gw_
    default_buckets: [100, 60000]
    metrics:
      bandwidth:
        extra_labels:
          - tenant: $http_x_tenant
          - method: $request_method
`, Routes: fmt.Sprintf("routes: [{id: r, uri: /*, plugins: {prometheus: {}}, upstream: {nodes: {%q: 1}}}]\n", up)})
	base := served(t, e, n.Registry)
	rq, _ := http.NewRequest("POST", n.URL+"/up", strings.NewReader(strings.Repeat("x", 300<<10)))
	rq.Header.Set("X-Tenant", "acme")
	res, err := e2e.Client().Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	upIP := strings.Split(up, ":")[0]
	ingress := key("gw_bandwidth", "type=ingress", "route=r", "service=", "consumer=", "node="+upIP, "tenant=acme", "method=POST")
	var m map[string]float64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && m[ingress] == 0; time.Sleep(10 * time.Millisecond) {
		m = scrape(t, base)
	}
	if m[ingress] == 0 {
		t.Fatalf("no %s in %v", ingress, m)
	}
	if _, ok := m[key("gw_http_latency_bucket", "type=request", "le=100", "route=r", "service=", "consumer=", "node="+upIP)]; !ok {
		t.Error("no le=100 bucket")
	}
	if _, ok := m[key("gw_http_latency_bucket", "type=request", "le=5", "route=r", "service=", "consumer=", "node="+upIP)]; ok {
		t.Error("APISIX's default buckets despite default_buckets")
	}
	if m[key("gw_http_requests_total")] != 1 {
		t.Error("gw_http_requests_total")
	}
}
