package httplogger_test

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/httplogger"
	"github.com/sluice-gateway/sluice/plugin/internal/batchlog"
	"github.com/sluice-gateway/sluice/plugin/keyauth"
)

// startProxy runs a node with key-auth and http-logger (config logger) on
// a route; extra is more top-level YAML (plugin_metadata).
func startProxy(t *testing.T, logger, extra string) (*e2e.Node, string) {
	t.Helper()
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Up", "yes")
		io.WriteString(w, "hello")
	}))
	n := e2e.Start(t, e2e.Options{
		Workers: 2,
		Plugins: []plugin.Def{keyauth.Def, httplogger.Def},
		Routes: extra + fmt.Sprintf(`
routes:
  - id: r1
    uri: /hello
    plugins:
      key-auth: {}
      http-logger: %s
    upstream: {nodes: {%q: 1}}
consumers:
  - username: jack
    plugins:
      key-auth: {key: auth-one}
`, logger, up),
	})
	return n, up
}

func send(t *testing.T, n *e2e.Node, method, key, body string) int {
	t.Helper()
	rq, _ := http.NewRequest(method, n.URL+"/hello?q=1", strings.NewReader(body))
	if key != "" {
		rq.Header.Set("apikey", key)
	}
	res, err := e2e.Client().Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// Through the real proxy: each request, authenticated or refused, is
// POSTed to a real receiver with what APISIX's full log holds.
func TestE2EDelivers(t *testing.T) {
	rc := newReceiver(t)
	n, up := startProxy(t, fmt.Sprintf(`{uri: %q, batch_max_size: 3, inactive_timeout: 1}`, rc.URL), "")
	if st := send(t, n, "GET", "auth-one", ""); st != 200 {
		t.Fatalf("GET: %d", st)
	}
	// A body larger than the proxy's read buffer, streamed to the upstream:
	// the head is logged as received all the same.
	if st := send(t, n, "POST", "auth-one", strings.Repeat("x", 200<<10)); st != 200 {
		t.Fatalf("POST: %d", st)
	}
	if st := send(t, n, "GET", "nope", ""); st != 401 {
		t.Fatalf("bad key: %d", st)
	}
	ps := rc.wait(t, 3, array)
	var got []string
	for _, p := range ps {
		for _, e := range array(p.body) {
			var m struct {
				Request struct {
					Method, URI string
					Headers     map[string]any
				}
				Response struct {
					Status  int
					Headers map[string]any
				}
				Upstream string
				RouteID  string `json:"route_id"`
				Consumer *struct{ Username string }
			}
			if err := json.Unmarshal([]byte(e), &m); err != nil {
				t.Fatalf("%s: %v", e, err)
			}
			who := "-"
			if m.Consumer != nil {
				who = m.Consumer.Username
			}
			got = append(got, fmt.Sprintf("%s %s %d %s %s up=%v xup=%v", m.Request.Method, m.Request.URI, m.Response.Status,
				m.RouteID, who, m.Upstream == up, m.Response.Headers["x-up"]))
			if m.Request.Method == "POST" && m.Request.Headers["content-length"] != fmt.Sprint(200<<10) {
				t.Errorf("POST headers %v", m.Request.Headers)
			}
		}
	}
	// The log phase runs once the answer is written, so a request's entry
	// may be queued after the next request's (another loop's): compare
	// the entries in any order.
	want := []string{
		"GET /hello?q=1 200 r1 jack up=true xup=yes",
		"GET /hello?q=1 401 r1 - up=false xup=<nil>",
		"POST /hello?q=1 200 r1 jack up=true xup=yes",
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A receiver that never answers: requests through the proxy go on being
// answered; the entries beyond the pending bound are dropped and counted.
func TestE2EStalledReceiver(t *testing.T) {
	rc := newReceiver(t)
	rc.block = make(chan struct{})
	dropped := httplogger.Stats.Dropped.Load()
	n, _ := startProxy(t, fmt.Sprintf(`{uri: %q, batch_max_size: 2, timeout: 60}`, rc.URL),
		"plugin_metadata:\n  - {id: http-logger, max_pending_entries: 4}\n")
	for i := range 100 {
		if st := send(t, n, "GET", "auth-one", ""); st != 200 {
			t.Fatalf("request %d: %d", i, st)
		}
	}
	// Accepted at most: the stuck batch (2), the queue (4), one being
	// formatted.
	if d := httplogger.Stats.Dropped.Load() - dropped; d < 100-4-2-1 {
		t.Errorf("dropped %d of 100 with 4 pending at most", d)
	}
}

// The examples of APISIX's http-logger page (docs/en/latest/plugins/
// http-logger.md, 3.18), sent as the page sends them (route bodies and
// plugin_metadata, the receiver and upstream on loopback), with the
// entries the page shows. They keep the default batching, so each entry
// arrives after inactive_timeout (5 s): the examples run side by side.
func TestDocExamplesThroughProxy(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	route := func(logger string) string {
		return `{"id": "http-logger-route", "uri": "/anything", "plugins": {"http-logger": ` + logger + `},
			"upstream": {"nodes": {"` + up + `": 1}, "type": "roundrobin"}}`
	}
	type request struct {
		method, target, body string
		hdr                  [2]string
	}
	examples := []struct {
		name, logger, meta string
		reqs               []request
		check              func(t *testing.T, entries []map[string]any)
	}{
		{"Log Requests in Default Log Format", `{"uri": "RECEIVER"}`, "",
			[]request{{"GET", "/anything", "", [2]string{}}},
			func(t *testing.T, es []map[string]any) {
				e := es[0]
				var keys []string
				for k := range e {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				if got := strings.Join(keys, " "); got != "apisix_latency client_ip latency request response route_id server service_id start_time upstream upstream_latency" {
					t.Errorf("keys %s", got)
				}
				rq, rs := e["request"].(map[string]any), e["response"].(map[string]any)
				if rq["url"] != "http://127.0.0.1:"+portOf(t, e["request"])+"/anything" || rq["uri"] != "/anything" || rq["method"] != "GET" ||
					fmt.Sprint(rq["querystring"]) != "map[]" || rs["status"] != 200.0 || e["route_id"] != "http-logger-route" || e["service_id"] != "" ||
					e["upstream"] != up || e["client_ip"] != "127.0.0.1" {
					t.Errorf("entry %v", e)
				}
			}},
		{"Log Request and Response Headers With Plugin Metadata", `{"uri": "RECEIVER"}`,
			`{"log_format": {"host": "$host", "@timestamp": "$time_iso8601", "client_ip": "$remote_addr", "env": "$http_env", "resp_content_type": "$sent_http_Content_Type"}}`,
			[]request{{"GET", "/anything", "", [2]string{"env", "dev"}}},
			func(t *testing.T, es []map[string]any) {
				e := es[0]
				ts, _ := e["@timestamp"].(string)
				delete(e, "@timestamp")
				if _, err := time.Parse(time.RFC3339, ts); err != nil {
					t.Errorf("@timestamp %q: %v", ts, err)
				}
				if got := fmt.Sprint(e); got != "map[client_ip:127.0.0.1 env:dev host:127.0.0.1 resp_content_type:application/json route_id:http-logger-route]" {
					t.Errorf("entry %s", got)
				}
			}},
		{"Log Request Bodies Conditionally", `{"uri": "RECEIVER", "include_req_body": true, "include_req_body_expr": [["arg_log_body", "==", "yes"]]}`, "",
			[]request{{"POST", "/anything?log_body=yes", `{"env": "dev"}`, [2]string{}}, {"POST", "/anything", `{"env": "dev"}`, [2]string{}}},
			func(t *testing.T, es []map[string]any) {
				for _, e := range es {
					rq := e["request"].(map[string]any)
					body, has := rq["body"]
					if yes := rq["uri"] == "/anything?log_body=yes"; has != yes || (yes && body != `{"env": "dev"}`) {
						t.Errorf("%v: body %q (%v)", rq["uri"], body, has)
					}
				}
			}},
		{"$request_body in a log_format (the page's note)", `{"uri": "RECEIVER", "log_format": {"body": "$request_body"}}`, "",
			[]request{{"POST", "/anything", `{"env": "dev"}`, [2]string{}}},
			func(t *testing.T, es []map[string]any) {
				if got := fmt.Sprint(es[0]); got != `map[body:{"env": "dev"} route_id:http-logger-route]` {
					t.Errorf("entry %s", got)
				}
			}},
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t)
			routes := "routes: [" + route(strings.Replace(ex.logger, "RECEIVER", rc.URL+"/", 1)) + "]\n"
			if ex.meta != "" {
				routes += "plugin_metadata: [" + strings.Replace(ex.meta, "{", `{"id": "http-logger", `, 1) + "]\n"
			}
			n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{httplogger.Def}, Routes: routes})
			for _, rq := range ex.reqs {
				req, _ := http.NewRequest(rq.method, n.URL+rq.target, strings.NewReader(rq.body))
				if rq.hdr[0] != "" {
					req.Header.Set(rq.hdr[0], rq.hdr[1])
				}
				res, err := e2e.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			var entries []map[string]any
			for _, p := range rc.wait(t, len(ex.reqs), array) {
				for _, raw := range array(p.body) {
					var e map[string]any
					if err := json.Unmarshal([]byte(raw), &e); err != nil {
						t.Fatalf("%s: %v", raw, err)
					}
					entries = append(entries, e)
				}
			}
			ex.check(t, entries)
		})
	}
}

// portOf is the proxy port in a full log's request url.
func portOf(t *testing.T, rq any) string {
	u, _ := rq.(map[string]any)["url"].(string)
	rest := strings.TrimPrefix(u, "http://127.0.0.1:")
	port, _, _ := strings.Cut(rest, "/")
	return port
}

// Bodies through the proxy: a streamed request body (larger than the
// proxy's read buffer), a chunked one, each cut at max_req_body_bytes;
// include_resp_body_expr on the status (decided by the logger's goroutine
// for a request with a body) or an argument; a gzip response logged
// decoded; log_format_extra on top of the full log.
func TestE2EBodies(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if r.URL.Query().Get("gz") != "" {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			fmt.Fprintf(zw, "upstream read %d bytes", n)
			zw.Close()
			return
		}
		if r.URL.Query().Get("fail") != "" {
			w.WriteHeader(500)
		}
		fmt.Fprintf(w, "upstream read %d bytes", n)
	}))
	rc := newReceiver(t)
	n := e2e.Start(t, e2e.Options{Workers: 2, Plugins: []plugin.Def{httplogger.Def}, Routes: fmt.Sprintf(`
routes:
  - id: r
    uri: /*
    upstream: {nodes: {%q: 1}}
    plugins:
      http-logger:
        uri: %q
        batch_max_size: 1
        include_req_body: true
        max_req_body_bytes: 100000
        include_resp_body: true
        include_resp_body_expr: [["OR", [status, "==", "500"], [arg_gz, "==", "1"]]]
        max_resp_body_bytes: 12
        log_format_extra: {env: $http_env, client_ip: "not this"}
  - id: gz
    uri: /gz
    upstream: {nodes: {%[1]q: 1}}
    plugins:
      http-logger: {uri: %[2]q, batch_max_size: 1, include_resp_body: true, log_format_extra: {env: $http_env}}
`, up, rc.URL)})
	big := strings.Repeat("0123456789", 30000) // 300 kB
	for _, tt := range []struct {
		target string
		body   io.Reader
	}{
		{"/big", strings.NewReader(big)},
		{"/chunked", io.MultiReader(strings.NewReader("in "), strings.NewReader("chunks"))},
		{"/fail?fail=1", strings.NewReader("x")},
		{"/gz?gz=1", nil},
	} {
		rq, _ := http.NewRequest("POST", n.URL+tt.target, tt.body)
		rq.Header.Set("env", "test")
		res, err := e2e.Client().Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	got := map[string]string{}
	for _, p := range rc.wait(t, 4, array) {
		var e struct {
			Request  struct{ URI, Body *string }
			Response struct{ Body *string }
			Env      string `json:"env"`
			ClientIP string `json:"client_ip"`
		}
		if err := json.Unmarshal([]byte(p.body), &e); err != nil {
			t.Fatalf("%s: %v", p.body, err)
		}
		if e.Env != "test" || e.ClientIP != "127.0.0.1" {
			t.Errorf("log_format_extra: env %q client_ip %q", e.Env, e.ClientIP)
		}
		s := func(p *string) string {
			if p == nil {
				return "-"
			}
			return fmt.Sprintf("%d:%.12s", len(*p), *p)
		}
		got[*e.Request.URI] = s(e.Request.Body) + " " + s(e.Response.Body)
	}
	want := map[string]string{
		"/big":         "100000:012345678901 -",
		"/chunked":     "9:in chunks -",
		"/fail?fail=1": "1:x 12:upstream rea",
		"/gz?gz=1":     "- 21:upstream rea",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bodies\n got %v\nwant %v", got, want)
	}
}

// Bodies held by loggers are bounded (SetBodyBudget): past it an entry is
// dropped and counted, the requests are answered all the same.
func TestE2EBodyBudget(t *testing.T) {
	old := batchlog.SetBodyBudget(64 << 10)
	t.Cleanup(func() { batchlog.SetBodyBudget(old) }) // after the node stops
	rc := newReceiver(t)
	rc.block = make(chan struct{})
	dropped := httplogger.Stats.Dropped.Load()
	n, _ := startProxy(t, fmt.Sprintf(`{uri: %q, batch_max_size: 1, timeout: 60, include_req_body: true}`, rc.URL), "")
	for i := range 20 {
		if st := send(t, n, "POST", "auth-one", strings.Repeat("b", 10<<10)); st != 200 {
			t.Fatalf("request %d: %d", i, st)
		}
	}
	// 64 KiB holds six 10 KiB bodies: the rest are dropped.
	if d := httplogger.Stats.Dropped.Load() - dropped; d < 20-7 {
		t.Errorf("dropped %d of 20", d)
	}
}
