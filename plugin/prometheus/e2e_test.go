package prometheus_test

import (
	"fmt"
	"io"
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
