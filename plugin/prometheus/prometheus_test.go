package prometheus_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/prometheus"
)

const get = "GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n"

// APISIX's documented configs: enabled with an empty object on a route
// (or a global rule), and prefer_name.
func TestDocExamples(t *testing.T) {
	reg := plugintest.Registry(t, prometheus.NewDef(prometheus.NewExporter()))
	for _, conf := range []string{
		`{"prometheus":{}}`,
		`{"prometheus":{"prefer_name":true}}`,
	} {
		plugintest.MustBuild(t, reg, plugintest.Config{Route: conf})
		plugintest.MustBuild(t, reg, plugintest.Config{Global: []string{conf}})
	}
}

func TestSchemaErrors(t *testing.T) {
	reg := plugintest.Registry(t, prometheus.NewDef(prometheus.NewExporter()))
	for conf, want := range map[string]string{
		`{"prometheus":{"prefer_name":"yes"}}`: "/prefer_name: got string, want boolean",
		`{"prometheus":{"export_uri":"/m"}}`:   "additional properties 'export_uri' not allowed",
	} {
		_, err := plugintest.Build(t, reg, plugintest.Config{Route: conf})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", conf, err, want)
		}
	}
	// The page's metadata example is accepted; what sluice has no metric
	// or label for is refused, naming it.
	for md, want := range map[string]string{
		`{"disabled_labels":{"http_status":["node","consumer"],"http_latency":["node"]}}`: "",
		`{"disabled_labels":{"bandwidth":["route","service","consumer","node"]}}`:         "",
		`{"disabled_labels":{"llm_latency":["node"]}}`:                                    "additional properties 'llm_latency' not allowed",
		`{"disabled_labels":{"http_status":["code"]}}`:                                    "/disabled_labels/http_status/0",
		`{"disabled_labels":{"http_status":["request_type"]}}`:                            "/disabled_labels/http_status/0",
		`{"expire":1}`: "additional properties 'expire' not allowed",
	} {
		_, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"prometheus":{}}`, Metadata: map[string]string{"prometheus": md}})
		if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("metadata %s: error %v, want %q", md, err, want)
		}
	}
}

// served starts an exporter's listener on a loopback port.
func served(t *testing.T, e *prometheus.Exporter, reg *plugin.Registry) string {
	t.Helper()
	s, err := e.Listen("127.0.0.1:0", "/apisix/prometheus/metrics", reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return "http://" + s.Addr().String()
}

// scrape fetches the exposition and indexes its samples by
// name{label="value",...} with the labels sorted, as client_golang writes them.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	res, err := http.Get(base + "/apisix/prometheus/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("scrape: %s", res.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// key renders a sample's name with labels given as "k=v" pairs, sorted,
// with a histogram's le last.
func key(name string, labels ...string) string {
	sort.Slice(labels, func(i, j int) bool {
		if li, lj := strings.HasPrefix(labels[i], "le="), strings.HasPrefix(labels[j], "le="); li != lj {
			return lj
		}
		return labels[i] < labels[j]
	})
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=%q", k, v)
		}
		b.WriteByte('}')
	}
	return b.String()
}

type req struct {
	loop      int
	status    int
	consumer  *plugin.Consumer
	node      string
	meta      *plugin.RouteMeta
	in, out   int64
	total, up time.Duration
}

func logOne(r *plugintest.Request, ch *plugin.Chain, q req) {
	c := r.Reset(ch)
	c.Loop, c.Status, c.Consumer, c.RouteMeta = q.loop, q.status, q.consumer, q.meta
	if q.node != "" {
		c.Node = netip.MustParseAddrPort(q.node)
	}
	c.BytesIn, c.BytesOut = q.in, q.out
	now := time.Now()
	c.Start, c.End = now.Add(-q.total), now // exact latencies, however slow the machine
	if q.up > 0 {
		c.UpstreamStart = now.Add(-q.up)
	}
	if res := c.Request(); res.Stopped() {
		panic("stopped")
	}
	c.Log()
}

func TestMetrics(t *testing.T) {
	e := prometheus.NewExporter()
	e.Connections = func() int64 { return 7 }
	reg := plugintest.Registry(t, prometheus.NewDef(e))
	base := served(t, e, reg)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"prometheus":{}}`})
	named := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"prometheus":{"prefer_name":true}}`})
	jack := &plugin.Consumer{Username: "jack"}
	meta := &plugin.RouteMeta{Name: "hello-route", ServiceName: "svc", URI: "/hello", Host: "example.com"}
	r := plugintest.NewRequest(get, "127.0.0.1:5000")

	// Route 1 on loops 0 and 3: the loops' series are summed.
	for i := range 3 {
		logOne(r, ch, req{loop: i % 2 * 3, status: 200, node: "10.0.0.1:80", in: 100, out: 1000,
			total: 300 * time.Millisecond, up: 120 * time.Millisecond})
	}
	logOne(r, ch, req{loop: 1, status: 502, node: "10.0.0.1:80", in: 50, out: 10, total: 300 * time.Millisecond, up: 120 * time.Millisecond})
	// The gateway answered itself: no node, no upstream latency.
	logOne(r, ch, req{loop: 0, status: 401, in: 80, out: 40, total: 3 * time.Millisecond})
	logOne(r, ch, req{loop: 2, status: 200, consumer: jack, meta: meta, node: "10.0.0.2:8080", in: 1, out: 2, total: time.Millisecond})
	logOne(r, named, req{loop: 2, status: 404, consumer: jack, meta: meta, node: "[2001:db8::1]:80", total: time.Millisecond})

	m := scrape(t, base)
	node1 := []string{"route=1", "service=", "consumer=", "node=10.0.0.1"}
	checks := map[string]float64{
		key("apisix_http_status", "code=200", "route=1", "matched_uri=", "matched_host=", "service=", "consumer=", "node=10.0.0.1"):                      3,
		key("apisix_http_status", "code=502", "route=1", "matched_uri=", "matched_host=", "service=", "consumer=", "node=10.0.0.1"):                      1,
		key("apisix_http_status", "code=401", "route=1", "matched_uri=", "matched_host=", "service=", "consumer=", "node="):                              1,
		key("apisix_http_status", "code=200", "route=1", "matched_uri=/hello", "matched_host=example.com", "service=", "consumer=jack", "node=10.0.0.2"): 1,
		// prefer_name: the route's and service's names instead of ids.
		key("apisix_http_status", "code=404", "route=hello-route", "matched_uri=/hello", "matched_host=example.com", "service=svc", "consumer=jack", "node=2001:db8::1"): 1,

		key("apisix_http_latency_count", append([]string{"type=request"}, node1...)...):                        4,
		key("apisix_http_latency_bucket", append([]string{"type=request", "le=200"}, node1...)...):             0,
		key("apisix_http_latency_bucket", append([]string{"type=request", "le=500"}, node1...)...):             4,
		key("apisix_http_latency_bucket", append([]string{"type=upstream", "le=100"}, node1...)...):            0,
		key("apisix_http_latency_bucket", append([]string{"type=upstream", "le=200"}, node1...)...):            4,
		key("apisix_http_latency_bucket", append([]string{"type=apisix", "le=100"}, node1...)...):              0,
		key("apisix_http_latency_bucket", append([]string{"type=apisix", "le=200"}, node1...)...):              4,
		key("apisix_http_latency_bucket", append([]string{"type=apisix", "le=+Inf"}, node1...)...):             4,
		key("apisix_http_latency_count", "type=request", "route=1", "service=", "consumer=", "node="):          1,
		key("apisix_http_latency_bucket", "type=request", "le=5", "route=1", "service=", "consumer=", "node="): 1,
		key("apisix_bandwidth", append([]string{"type=ingress"}, node1...)...):                                 350,
		key("apisix_bandwidth", append([]string{"type=egress"}, node1...)...):                                  3010,
		key("apisix_bandwidth", "type=egress", "route=1", "service=", "consumer=", "node="):                    40,
		key("apisix_http_requests_total"):                            7,
		key("apisix_nginx_http_current_connections", "state=active"): 7,
	}
	for k, want := range checks {
		got, ok := m[k]
		if !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	// No upstream exchange: no upstream latency series.
	if _, ok := m[key("apisix_http_latency_count", "type=upstream", "route=1", "service=", "consumer=", "node=")]; ok {
		t.Error("an upstream latency was recorded for a request the gateway answered itself")
	}
	// The sum is in milliseconds: the four 300 ms requests.
	if sum := m[key("apisix_http_latency_sum", append([]string{"type=request"}, node1...)...)]; sum != 1200 {
		t.Errorf("request latency sum %v ms, want 1200", sum)
	}
	var nodeInfo bool
	for k := range m {
		nodeInfo = nodeInfo || strings.HasPrefix(k, "apisix_node_info{hostname=")
	}
	if !nodeInfo {
		t.Error("no apisix_node_info")
	}
}

// Sampled requests' plugin costs come out per plugin and phase.
func TestCosts(t *testing.T) {
	e := prometheus.NewExporter()
	reg := plugintest.Registry(t, prometheus.NewDef(e))
	base := served(t, e, reg)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"prometheus":{}}`})
	r := plugintest.NewRequest(get, "127.0.0.1:5000")
	for i := range 10 {
		c := r.Reset(ch)
		c.Sampled = i%2 == 0
		c.Status = 200
		c.Log()
	}
	m := scrape(t, base)
	if got := m[key("sluice_plugin_phase_calls_total", "plugin=prometheus", "phase=log")]; got != 5 {
		t.Errorf("calls %v, want 5", got)
	}
	if got := m[key("sluice_plugin_phase_seconds_total", "plugin=prometheus", "phase=log")]; got <= 0 {
		t.Errorf("seconds %v, want > 0", got)
	}
}

func TestExportServer(t *testing.T) {
	e := prometheus.NewExporter()
	s, err := e.Listen("127.0.0.1:0", "/m", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := "http://" + s.Addr().String()
	for _, tt := range []struct {
		method, path string
		status       int
	}{{"GET", "/m", 200}, {"HEAD", "/m", 200}, {"GET", "/apisix/prometheus/metrics", 404}, {"POST", "/m", 405}} {
		rq, _ := http.NewRequest(tt.method, base+tt.path, nil)
		res, err := http.DefaultClient.Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.status {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, res.StatusCode, tt.status)
		}
		if tt.status == 200 && tt.method == "GET" && !strings.Contains(string(body), "apisix_node_info") {
			t.Errorf("GET %s: no apisix_node_info in\n%s", tt.path, body)
		}
	}
	if _, err := e.Listen(s.Addr().String(), "/m", nil); err == nil {
		t.Error("a second listener on a busy address: no error")
	}
}

// Loops log while scrapes run: under -race this checks that the per-loop
// series are shared safely, and the final count is exact.
func TestConcurrentLoopsAndScrapes(t *testing.T) {
	e := prometheus.NewExporter()
	reg := plugintest.Registry(t, prometheus.NewDef(e))
	base := served(t, e, reg)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"prometheus":{}}`})
	const loops, per = 4, 500
	var wg sync.WaitGroup
	done := make(chan struct{})
	for l := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := plugintest.NewRequest(get, "127.0.0.1:5000")
			for i := range per {
				logOne(r, ch, req{loop: l, status: 200 + i%3, node: fmt.Sprintf("10.0.0.%d:80", i%5),
					consumer: &plugin.Consumer{Username: "c" + strconv.Itoa(i%7)}, total: time.Millisecond})
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	for scraping := true; scraping; {
		select {
		case <-done:
			scraping = false
		default:
			scrape(t, base)
		}
	}
	if got := scrape(t, base)[key("apisix_http_requests_total")]; got != loops*per {
		t.Errorf("requests_total %v, want %d", got, loops*per)
	}
}

// Serve listens only when the node enables prometheus, where plugin_attr
// says.
func TestServe(t *testing.T) {
	var cfg core.Config
	cfg.PluginAttr.Prometheus.ExportURI = "/metrics"
	cfg.PluginAttr.Prometheus.ExportAddr.IP = "127.0.0.1"
	off, err := plugin.NewRegistry([]string{}, prometheus.Def)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := prometheus.Serve(&cfg, off); s != nil || err != nil {
		t.Fatalf("prometheus not enabled: server %v, error %v", s, err)
	}
	on, err := plugin.NewRegistry([]string{"prometheus"}, prometheus.Def)
	if err != nil {
		t.Fatal(err)
	}
	s, err := prometheus.Serve(&cfg, on)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := http.Get("http://" + s.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("GET /metrics: %s", res.Status)
	}
	cfg.PluginAttr.Prometheus.ExportAddr.Port = s.Addr().(*net.TCPAddr).Port
	if _, err := prometheus.Serve(&cfg, on); err == nil || !strings.Contains(err.Error(), "plugin_attr.prometheus.export_addr") {
		t.Errorf("busy port: error %v", err)
	}
}
