package httplogger_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/httplogger"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

const get = "GET /hello?a=1&b=x%20y&b=2&flag HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\n"

// receiver is a real HTTP server that records what the logger POSTs.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	posts  []post
	status int
	block  chan struct{} // when set, handlers wait on it
}

type post struct {
	body   string
	header http.Header
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{status: 200}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.posts = append(rc.posts, post{string(b), r.Header.Clone()})
		st, block := rc.status, rc.block
		rc.mu.Unlock()
		if block != nil {
			<-block
		}
		w.WriteHeader(st)
	}))
	t.Cleanup(func() {
		rc.mu.Lock()
		if rc.block != nil {
			close(rc.block)
			rc.block = nil
		}
		rc.mu.Unlock()
		rc.Close()
	})
	return rc
}

func (rc *receiver) got() []post {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]post(nil), rc.posts...)
}

// wait waits (bounded) until the receiver holds n entries in all.
func (rc *receiver) wait(t *testing.T, n int, split func(string) []string) []post {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps := rc.got()
		total := 0
		for _, p := range ps {
			total += len(split(p.body))
		}
		if total >= n {
			return ps
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver has %d entries after 10 s, want %d", total, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// array splits a POST body that is a JSON array (or one object).
func array(body string) []string {
	var raw []json.RawMessage
	if json.Unmarshal([]byte(body), &raw) == nil {
		out := make([]string, len(raw))
		for i, r := range raw {
			out[i] = string(r)
		}
		return out
	}
	return []string{body}
}

func lines(body string) []string { return strings.Split(body, "\n") }

func build(t testing.TB, route string, meta string) *plugin.Chain {
	t.Helper()
	reg := plugintest.Registry(t, httplogger.Def)
	cfg := plugintest.Config{Route: route}
	if meta != "" {
		cfg.Metadata = map[string]string{"http-logger": meta}
	}
	return plugintest.MustBuild(t, reg, cfg)
}

// logRequests runs n requests through ch as a server would, answered 200
// by an upstream at 10.0.0.1:80.
func logRequests(ch *plugin.Chain, n int, raw string) {
	r := plugintest.NewRequest(raw, "192.0.2.7:5000")
	for range n {
		c := r.Reset(ch)
		c.Start = time.Now().Add(-3 * time.Millisecond)
		c.UpstreamStart = c.Start.Add(time.Millisecond)
		c.Node = netip.MustParseAddrPort("10.0.0.1:80")
		c.Consumer = &plugin.Consumer{Username: "jack"}
		c.BytesIn, c.BytesOut = int64(len(raw)), 100
		if res := c.Request(); res.Stopped() {
			panic("stopped")
		}
		r.Respond("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n")
		c.Log()
	}
}

// APISIX's documented configs: the route example, the metadata example,
// and the batch processor fields.
func TestDocExamples(t *testing.T) {
	reg := plugintest.Registry(t, httplogger.Def)
	for _, tc := range []plugintest.Config{
		{Route: `{"http-logger":{"uri":"http://mockbin.org/bin/:ID"}}`},
		{Route: `{"http-logger":{"uri":"http://127.0.0.1:80/postendpoint?param=1"}}`},
		{Route: `{"http-logger":{"uri":"http://mockbin.org/bin/:ID","batch_max_size":1,"max_retry_count":1,"retry_delay":2,"buffer_duration":2,"inactive_timeout":2,"name":"http logger","timeout":3,"concat_method":"json","ssl_verify":false}}`},
		{Route: `{"http-logger":{"uri":"http://mockbin.org/bin/:ID"}}`,
			Metadata: map[string]string{"http-logger": `{"log_format":{"host":"$host","@timestamp":"$time_iso8601","client_ip":"$remote_addr"}}`}},
		{Route: `{"http-logger":{"uri":"https://logs.example.com/in","auth_header":"Basic dXNlcjpwYXNz","concat_method":"new_line","log_format":{"host":"$host","client_ip":"$remote_addr","request":{"method":"$request_method","uri":"$request_uri"}}}}`},
	} {
		if _, err := plugintest.Build(t, reg, tc); err != nil {
			t.Errorf("%s %v: %v", tc.Route, tc.Metadata, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	reg := plugintest.Registry(t, httplogger.Def)
	for conf, want := range map[string]string{
		`{"http-logger":{}}`:                                       "missing property 'uri'",
		`{"http-logger":{"uri":"ftp://x/y"}}`:                      `uri: want an http:// or https:// URL, got "ftp://x/y"`,
		`{"http-logger":{"uri":"http://x","batch_max_size":0}}`:    "/batch_max_size: minimum",
		`{"http-logger":{"uri":"http://x","concat_method":"csv"}}`: "/concat_method",
		`{"http-logger":{"uri":"http://x","include_req_body":true,"include_req_body_expr":[["arg_a","~~~","1"]]}}`: "include_req_body_expr",
		`{"http-logger":{"uri":"http://x","include_resp_body":true,"include_resp_body_expr":[]}}`:                  "/include_resp_body_expr: minItems",
		`{"http-logger":{"uri":"http://x","max_req_body_bytes":0}}`:                                                "/max_req_body_bytes: minimum",
		`{"http-logger":{"uri":"http://x","log_format_extra":{"a":1}}}`:                                            "log_format_extra.a: want a string",
		`{"http-logger":{"uri":"http://x","match":[]}}`:                                                            "additional properties 'match' not allowed",
		`{"http-logger":{"uri":"http://x","log_format":{"a":1}}}`:                                                  "log_format.a: want a string",
		`{"http-logger":{"uri":"http://x","keepalive":60}}`:                                                        "additional properties 'keepalive' not allowed",
		`{"http-logger":{"uri":"http://x","log_format":{"a":{"b":{"c":{"d":{"e":{"f":"$host"}}}}}}}}`:              "nest at most 5 deep",
	} {
		_, err := plugintest.Build(t, reg, plugintest.Config{Route: conf})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", conf, err, want)
		}
	}
}

// The default entry is APISIX's full log.
func TestDeliversFullLog(t *testing.T) {
	rc := newReceiver(t)
	ch := build(t, fmt.Sprintf(`{"http-logger":{"uri":%q,"batch_max_size":2,"auth_header":"Bearer k"}}`, rc.URL+"/logs?x=1"), "")
	logRequests(ch, 2, get)
	ps := rc.wait(t, 2, array)
	if len(ps) != 1 || ps[0].header.Get("Authorization") != "Bearer k" || ps[0].header.Get("Content-Type") != "application/json" {
		t.Fatalf("posts %+v", ps)
	}
	var entries []map[string]any
	if err := json.Unmarshal([]byte(ps[0].body), &entries); err != nil || len(entries) != 2 {
		t.Fatalf("body %s: %v", ps[0].body, err)
	}
	e := entries[0]
	req := e["request"].(map[string]any)
	resp := e["response"].(map[string]any)
	hdrs := req["headers"].(map[string]any)
	qs := req["querystring"].(map[string]any)
	checks := map[string]any{
		"url":          req["url"] == "http://example.com:9080/hello?a=1&b=x%20y&b=2&flag",
		"uri":          req["uri"] == "/hello?a=1&b=x%20y&b=2&flag",
		"method":       req["method"] == "GET",
		"header":       hdrs["user-agent"] == "test",
		"dup header":   fmt.Sprint(hdrs["x-dup"]) == "[1 2]",
		"query":        qs["a"] == "1" && fmt.Sprint(qs["b"]) == "[x y 2]" && qs["flag"] == true,
		"size":         req["size"] == float64(len(get)),
		"status":       resp["status"] == float64(200),
		"resp headers": resp["headers"].(map[string]any)["content-type"] == "text/plain",
		"resp size":    resp["size"] == float64(100),
		"upstream":     e["upstream"] == "10.0.0.1:80",
		"route":        e["route_id"] == "1" && e["service_id"] == "",
		"consumer":     e["consumer"].(map[string]any)["username"] == "jack",
		"client_ip":    e["client_ip"] == "192.0.2.7",
		"latency":      e["latency"].(float64) >= 3 && e["upstream_latency"].(float64) >= 2 && e["apisix_latency"].(float64) >= 0.9,
		"start_time":   e["start_time"].(float64) > float64(time.Now().Add(-time.Minute).UnixMilli()),
		"server":       e["server"].(map[string]any)["version"] == "sluice",
	}
	for what, ok := range checks {
		if ok != true {
			t.Errorf("%s wrong in %s", what, ps[0].body)
		}
	}
}

// A log_format on the route wins over the metadata's; variables are
// read from the request, absent ones left out, objects nest, and
// route_id/service_id are added as APISIX does.
func TestLogFormat(t *testing.T) {
	rc := newReceiver(t)
	meta := `{"log_format":{"from_meta":"$host"}}`
	ch := build(t, fmt.Sprintf(`{"http-logger":{"uri":%q,"batch_max_size":1,"log_format":{"host":"$host","client_ip":"$remote_addr","ua":"$http_user_agent","arg":"$arg_b","none":"$http_x_none","lit":"text","st":"$status","who":"$consumer_name","req":{"m":"$request_method","line":"$request"}}}}`, rc.URL), meta)
	logRequests(ch, 1, get)
	ps := rc.wait(t, 1, array)
	want := `{"arg":"x%20y","client_ip":"192.0.2.7","host":"example.com","lit":"text","req":{"line":"GET /hello?a=1&b=x%20y&b=2&flag HTTP/1.1","m":"GET"},"st":"200","ua":"test","who":"jack","route_id":"1"}`
	if ps[0].body != want {
		t.Errorf("got  %s\nwant %s", ps[0].body, want)
	}
	// The metadata's format when the route has none.
	rc2 := newReceiver(t)
	ch = build(t, fmt.Sprintf(`{"http-logger":{"uri":%q,"batch_max_size":1}}`, rc2.URL), meta)
	logRequests(ch, 1, get)
	if ps := rc2.wait(t, 1, array); ps[0].body != `{"from_meta":"example.com","route_id":"1"}` {
		t.Errorf("metadata format: %s", ps[0].body)
	}
}

// batch_max_size bounds every batch; the rest goes after inactive_timeout.
func TestBatchMaxSizeAndInactiveTimeout(t *testing.T) {
	rc := newReceiver(t)
	ch := build(t, fmt.Sprintf(`{"http-logger":{"uri":%q,"batch_max_size":3,"inactive_timeout":1,"log_format":{"h":"$host"}}}`, rc.URL), "")
	logRequests(ch, 7, get)
	ps := rc.wait(t, 7, array)
	// Normally [3 3 1]: two full batches, then the rest on inactive_timeout.
	// A loaded machine may pause the pushes for longer than the timeout, so
	// what must hold is: no batch above 3, and one below it, which only the
	// timeout sends (7 is no multiple of 3).
	var sizes []int
	total, short := 0, false
	for _, p := range ps {
		n := len(array(p.body))
		sizes = append(sizes, n)
		total += n
		short = short || n < 3
		if n > 3 {
			t.Errorf("a batch of %d, over batch_max_size 3", n)
		}
	}
	if total != 7 || !short {
		t.Errorf("batch sizes %v", sizes)
	}
}

func TestConcatNewLine(t *testing.T) {
	rc := newReceiver(t)
	ch := build(t, fmt.Sprintf(`{"http-logger":{"uri":%q,"batch_max_size":2,"concat_method":"new_line","log_format":{"h":"$host"}}}`, rc.URL), "")
	logRequests(ch, 2, get)
	ps := rc.wait(t, 2, lines)
	if len(ps) != 1 || ps[0].body != "{\"h\":\"example.com\",\"route_id\":\"1\"}\n{\"h\":\"example.com\",\"route_id\":\"1\"}" {
		t.Errorf("posts %q", ps)
	}
}

// A receiver answering 500 gets the batch max_retry_count more times,
// then the entries are counted as failed.
func TestRetriesThenFails(t *testing.T) {
	rc := newReceiver(t)
	rc.status = 500
	failed := httplogger.Stats.Failed.Load()
	ch := build(t, fmt.Sprintf(`{"http-logger":{"uri":%q,"batch_max_size":1,"max_retry_count":2,"retry_delay":0,"log_format":{"h":"$host"}}}`, rc.URL), "")
	logRequests(ch, 1, get)
	rc.wait(t, 3, array)
	for deadline := time.Now().Add(10 * time.Second); httplogger.Stats.Failed.Load() == failed && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(rc.got()); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	if d := httplogger.Stats.Failed.Load() - failed; d != 1 {
		t.Errorf("failed %d, want 1", d)
	}
}

// A receiver that never answers does not hold up requests: once the
// logger's records are all waiting, entries are dropped and counted.
func TestStalledReceiverDrops(t *testing.T) {
	rc := newReceiver(t)
	rc.block = make(chan struct{})
	dropped := httplogger.Stats.Dropped.Load()
	ch := build(t, fmt.Sprintf(`{"http-logger":{"uri":%q,"batch_max_size":4,"timeout":30,"log_format":{"h":"$host"}}}`, rc.URL),
		`{"max_pending_entries":16}`)
	const n = 2000
	logRequests(ch, n, get) // returns: every Log is a non-blocking hand-off
	rc.wait(t, 4, array)    // the first batch is stuck in the receiver
	d := httplogger.Stats.Dropped.Load() - dropped
	// Accepted at most: the stuck batch (4), the queue (16), one being
	// formatted.
	if d < n-16-4-1 || d > n {
		t.Errorf("dropped %d of %d with 16 pending at most", d, n)
	}
}
