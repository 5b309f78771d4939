package trafficsplit_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/trafficsplit"
)

// Through the real proxy to real upstreams: a canary split by weight
// between an inline upstream and the route's own, a blue-green rule on a
// header to an upstream resource by id.
func TestE2E(t *testing.T) {
	named := func(name string) string {
		return e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
	}
	blue, green, canary := named("blue"), named("green"), named("canary")
	n := e2e.Start(t, e2e.Options{
		Workers: 1,
		Plugins: []plugin.Def{trafficsplit.Def},
		Routes: fmt.Sprintf(`
upstreams:
  - {id: green, nodes: {%q: 1}}
routes:
  - id: r1
    uri: /
    upstream: {nodes: {%q: 1}}
    plugins:
      traffic-split:
        rules:
          - match: [{vars: [[http_release, ==, new_release]]}]
            weighted_upstreams: [{upstream_id: green}]
          - weighted_upstreams:
              - {upstream: {type: roundrobin, nodes: {%q: 1}}, weight: 3}
              - {weight: 2}
`, green, blue, canary),
	})
	cl := e2e.Client()
	get := func(release string) string {
		rq, _ := http.NewRequest("GET", n.URL+"/", nil)
		if release != "" {
			rq.Header.Set("release", release)
		}
		res, err := cl.Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return string(b)
	}
	var got []string
	for range 10 {
		got = append(got, get(""))
	}
	// One loop: the smooth order of 3:2 over two cycles.
	if want := "canary blue canary blue canary canary blue canary blue canary"; strings.Join(got, " ") != want {
		t.Errorf("split: %s\nwant   %s", strings.Join(got, " "), want)
	}
	for range 3 {
		if b := get("new_release"); b != "green" {
			t.Errorf("release: new_release went to %s", b)
		}
	}
}

// The examples of APISIX's traffic-split page (docs/en/latest/plugins/
// traffic-split.md, 3.18), sent as the page sends them — except "scheme":
// "https", which sluice refuses (no upstream TLS yet; TestDocExamples), so
// here the three hosts are plain-HTTP servers on loopback — with the
// answers the page shows: counts of where ten requests went, and the Host
// each upstream got (pass_host "node": the node's address).
func TestDocExamplesThroughProxy(t *testing.T) {
	named := func(name string) string {
		return e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name+" "+r.Host)
		}))
	}
	hosts := map[string]string{"httpbin.org:443": named("httpbin.org"), "mock.api7.ai:443": named("mock.api7.ai"), "postman-echo.com:443": named("postman-echo.com")}
	route := func(body string) string {
		body = strings.ReplaceAll(body, `"https"`, `"http"`)
		for h, addr := range hosts {
			body = strings.ReplaceAll(body, h, addr)
		}
		return "routes: [" + body + "]\n"
	}
	n := e2e.Start(t, e2e.Options{Workers: 1, Plugins: []plugin.Def{trafficsplit.Def}, Routes: "routes: []\n"})
	cl := e2e.Client()
	do := func(method, target, body string, hdrs ...string) string {
		rq, _ := http.NewRequest(method, n.URL+target, strings.NewReader(body))
		if body != "" {
			rq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for i := 0; i+1 < len(hdrs); i += 2 {
			rq.Header.Set(hdrs[i], hdrs[i+1])
		}
		res, err := cl.Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, target, res.StatusCode, b)
		}
		name, host, _ := strings.Cut(string(b), " ")
		if want := hosts[name+":443"]; host != want {
			t.Errorf("%s got Host %q, want its node %q (pass_host node)", name, host, want)
		}
		return name
	}
	count := func(method, target string, hdrs ...string) string {
		got := map[string]int{}
		for range 10 {
			got[do(method, target, "", hdrs...)]++
		}
		return fmt.Sprintf("httpbin.org: %d, mock.api7.ai: %d", got["httpbin.org"], got["mock.api7.ai"])
	}
	load := func(body string) {
		t.Helper()
		if err := n.Reload(route(body)); err != nil {
			t.Fatal(err)
		}
	}
	canaryRule := `"weighted_upstreams": [
		{"upstream": {"type": "roundrobin", "scheme": "https", "pass_host": "node", "nodes": {"httpbin.org:443": 1}}, "weight": 3},
		{"weight": 2}]`
	routeUpstream := `"upstream": {"type": "roundrobin", "scheme": "https", "pass_host": "node", "nodes": {"mock.api7.ai:443": 1}}`

	// Implement Canary Release.
	load(`{"uri": "/headers", "id": "traffic-split-route", "plugins": {"traffic-split": {"rules": [{` + canaryRule + `}]}}, ` + routeUpstream + `}`)
	if got := count("GET", "/headers"); got != "httpbin.org: 6, mock.api7.ai: 4" {
		t.Errorf("canary: %s", got)
	}

	// Implement Blue-Green Deployment.
	load(`{"uri": "/headers", "id": "traffic-split-route", "plugins": {"traffic-split": {"rules": [{
		"match": [{"vars": [["http_release", "==", "new_release"]]}],
		"weighted_upstreams": [{"upstream": {"type": "roundrobin", "scheme": "https", "pass_host": "node", "nodes": {"httpbin.org:443": 1}}}]}]}}, ` + routeUpstream + `}`)
	if got := do("GET", "/headers", "", "release", "new_release"); got != "httpbin.org" {
		t.Errorf("blue-green, release: new_release: went to %s", got)
	}
	if got := do("GET", "/headers", ""); got != "mock.api7.ai" {
		t.Errorf("blue-green, no header: went to %s", got)
	}

	// Define Matching Condition for POST Request With APISIX Expressions.
	load(`{"uri": "/post", "methods": ["POST"], "id": "traffic-split-route", "plugins": {"traffic-split": {"rules": [{
		"match": [{"vars": [["post_arg_id", "==", "1"]]}],
		"weighted_upstreams": [{"upstream": {"type": "roundrobin", "scheme": "https", "pass_host": "node", "nodes": {"httpbin.org:443": 1}}}]}]}}, ` + routeUpstream + `}`)
	if got := do("POST", "/post", "id=1"); got != "httpbin.org" {
		t.Errorf("post_arg_id=1: went to %s", got)
	}
	if got := do("POST", "/post", "random=string"); got != "mock.api7.ai" {
		t.Errorf("post without id: went to %s", got)
	}

	// Define AND Matching Conditions With APISIX Expressions.
	and := `{"vars": [["arg_name", "==", "jack"], ["http_user-id", ">", "23"], ["http_apisix-key", "~~", "[a-z]+"]]}`
	load(`{"uri": "/headers", "id": "traffic-split-route", "plugins": {"traffic-split": {"rules": [{"match": [` + and + `], ` + canaryRule + `}]}}, ` + routeUpstream + `}`)
	if got := count("GET", "/headers?name=jack", "user-id", "30", "apisix-key", "helloapisix"); got != "httpbin.org: 6, mock.api7.ai: 4" {
		t.Errorf("AND, all hold: %s", got)
	}
	if got := count("GET", "/headers?name=random"); got != "httpbin.org: 0, mock.api7.ai: 10" {
		t.Errorf("AND, none hold: %s", got)
	}

	// Define OR Matching Conditions With APISIX Expressions.
	or := `{"vars": [["arg_name2", "==", "rose"], ["http_user-id2", "!", ">", "33"], ["http_apisix-key2", "~~", "[a-z]+"]]}`
	load(`{"uri": "/headers", "id": "traffic-split-route", "plugins": {"traffic-split": {"rules": [{"match": [` + and + `, ` + or + `], ` + canaryRule + `}]}}, ` + routeUpstream + `}`)
	if got := count("GET", "/headers?name2=rose", "user-id", "30", "apisix-key2", "helloapisix"); got != "httpbin.org: 6, mock.api7.ai: 4" {
		t.Errorf("OR, the second holds: %s", got)
	}
	if got := count("GET", "/headers?name=random"); got != "httpbin.org: 0, mock.api7.ai: 10" {
		t.Errorf("OR, none hold: %s", got)
	}

	// Configure Different Rules for Different Upstreams.
	load(`{"uri": "/headers", "id": "traffic-split-route", "plugins": {"traffic-split": {"rules": [
		{"match": [{"vars": [["http_x-api-id", "==", "1"]]}], "weighted_upstreams": [{"upstream": {"type": "roundrobin", "scheme": "https", "pass_host": "node", "nodes": {"httpbin.org:443": 1}}, "weight": 1}]},
		{"match": [{"vars": [["http_x-api-id", "==", "2"]]}], "weighted_upstreams": [{"upstream": {"type": "roundrobin", "scheme": "https", "pass_host": "node", "nodes": {"mock.api7.ai:443": 1}}, "weight": 1}]}]}},
		"upstream": {"type": "roundrobin", "nodes": {"postman-echo.com:443": 1}, "scheme": "https", "pass_host": "node"}}`)
	for hdr, want := range map[string]string{"1": "httpbin.org", "2": "mock.api7.ai", "": "postman-echo.com"} {
		if got := do("GET", "/headers", "", "x-api-id", hdr); got != want {
			t.Errorf("x-api-id %q: went to %s, want %s", hdr, got, want)
		}
	}
}

// A weighted upstream brings its own pass_host, upstream_host and timeouts
// (the route's own timeout, when it sets one, wins, as in APISIX).
func TestWeightedUpstreamSettings(t *testing.T) {
	echo := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("sleep") != "" {
			time.Sleep(1500 * time.Millisecond)
		}
		io.WriteString(w, r.Host)
	}))
	n := e2e.Start(t, e2e.Options{Workers: 1, Plugins: []plugin.Def{trafficsplit.Def}, Routes: fmt.Sprintf(`
routes:
  - id: plain
    uri: /plain
    upstream: {nodes: {%[1]q: 1}}
    plugins:
      traffic-split:
        rules:
          - match: [{vars: [[http_to, ==, node]]}]
            weighted_upstreams: [{upstream: {pass_host: node, nodes: {%[1]q: 1}, timeout: {read: 0.5}}}]
          - match: [{vars: [[http_to, ==, rewrite]]}]
            weighted_upstreams: [{upstream: {pass_host: rewrite, upstream_host: split.example, nodes: {%[1]q: 1}}}]
  - id: timed
    uri: /timed
    timeout: {read: 3}
    upstream: {nodes: {%[1]q: 1}, pass_host: rewrite, upstream_host: route.example}
    plugins:
      traffic-split:
        rules:
          - weighted_upstreams: [{upstream: {nodes: {%[1]q: 1}, timeout: {read: 0.5}}}]
`, echo)})
	cl := e2e.Client()
	get := func(target, to string) (int, string) {
		rq, _ := http.NewRequest("GET", n.URL+target, nil)
		rq.Host = "client.example"
		if to != "" {
			rq.Header.Set("To", to)
		}
		res, err := cl.Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, string(b)
	}
	for _, tt := range []struct {
		target, to string
		status     int
		host       string
	}{
		{"/plain", "", 200, "client.example"}, // the route's upstream: pass
		{"/plain", "node", 200, echo},         // the split's: node
		{"/plain", "rewrite", 200, "split.example"},
		{"/plain?sleep=1", "node", 504, ""},           // the split's read timeout, 0.5 s
		{"/plain?sleep=1", "", 200, "client.example"}, // the route's: 60 s
		{"/timed?sleep=1", "", 200, "client.example"}, // the route's timeout (3 s) over the split's; the split's pass_host
	} {
		st, host := get(tt.target, tt.to)
		if st != tt.status || (tt.host != "" && host != tt.host) {
			t.Errorf("%s to=%q: %d %q, want %d %q", tt.target, tt.to, st, host, tt.status, tt.host)
		}
	}
}
