package filelogger_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/filelogger"
)

// Through the real proxy: a log_format from plugin_metadata, entries in a
// real file, the route's and the request's values in them.
func TestE2E(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "hello")
	}))
	n := e2e.Start(t, e2e.Options{
		Plugins: []plugin.Def{filelogger.Def},
		Routes: fmt.Sprintf(`
plugin_metadata:
  - id: file-logger
    log_format: {host: $host, client_ip: $remote_addr, status: $status, uri: $uri, upstream: $upstream_addr}
routes:
  - id: r1
    uris: [/hello, /missing]
    plugins:
      file-logger: {path: %q}
    upstream: {nodes: {%q: 1}}
`, path, up),
	})
	cl := e2e.Client()
	for _, p := range []string{"/hello", "/missing", "/hello"} {
		res, err := cl.Get(n.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	ls := readLines(t, path, 3)
	for i, want := range []string{"/hello 200", "/missing 404", "/hello 200"} {
		var e map[string]string
		if err := json.Unmarshal([]byte(ls[i]), &e); err != nil {
			t.Fatalf("%s: %v", ls[i], err)
		}
		if got := e["uri"] + " " + e["status"]; got != want || e["host"] != "127.0.0.1" || e["client_ip"] != "127.0.0.1" ||
			e["upstream"] != up || e["route_id"] != "r1" {
			t.Errorf("line %d: %s, want %s", i, ls[i], want)
		}
	}
}

// The examples of APISIX's file-logger page (docs/en/latest/plugins/
// file-logger.md, 3.18), sent as the page sends them (route bodies and
// plugin_metadata; "logs/" is a temporary directory here), with what the
// page says lands in the files.
func TestDocExamplesThroughProxy(t *testing.T) {
	dir := t.TempDir()
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	abs := func(s string) string { return strings.ReplaceAll(s, `"logs/`, `"`+dir+`/`) }
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{filelogger.Def}, Routes: "routes: []\n"})
	get := func(target string) {
		res, err := e2e.Client().Get(n.URL + target)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	load := func(routes string) {
		t.Helper()
		if err := n.Reload(abs(strings.ReplaceAll(routes, "UPSTREAM", up))); err != nil {
			t.Fatal(err)
		}
	}
	metadata := `plugin_metadata: [{"id": "file-logger",
		"path": "logs/metadata-file.log",
		"log_format": {"host": "$host", "@timestamp": "$time_iso8601", "client_ip": "$remote_addr",
			"request": {"method": "$request_method", "uri": "$request_uri"}, "response": {"status": "$status"}}}]
`
	enable := `routes: [{"id": "1", "plugins": {"file-logger": {"path": "logs/file.log"}},
	"upstream": {"type": "roundrobin", "nodes": {"UPSTREAM": 1}}, "uri": "/hello"}]
`
	// Metadata and Enable Plugin: the route's path, the metadata's format.
	load(metadata + enable)
	get("/hello")
	l := readLines(t, filepath.Join(dir, "file.log"), 1)[0]
	var e map[string]any
	if err := json.Unmarshal([]byte(l), &e); err != nil {
		t.Fatalf("%s: %v", l, err)
	}
	delete(e, "@timestamp")
	if got := fmt.Sprint(e); got != "map[client_ip:127.0.0.1 host:127.0.0.1 request:map[method:GET uri:/hello] response:map[status:200] route_id:1]" {
		t.Errorf("metadata format: %s", got)
	}
	// The metadata's path, for a route whose plugin sets none.
	load(metadata + `routes: [{"id": "1", "plugins": {"file-logger": {}}, "upstream": {"nodes": {"UPSTREAM": 1}}, "uri": "/hello"}]` + "\n")
	get("/hello")
	readLines(t, filepath.Join(dir, "metadata-file.log"), 1)

	// Enable Plugin alone: APISIX's full log.
	load(enable)
	get("/hello")
	l = readLines(t, filepath.Join(dir, "file.log"), 2)[1]
	if !strings.Contains(l, `"request":{"url":"http://127.0.0.1:`) || !strings.Contains(l, `"route_id":"1"`) {
		t.Errorf("full log: %s", l)
	}

	// Filter logs: name=jack is logged, name=rose is not.
	load(`routes: [{"id": "1", "plugins": {"file-logger": {"path": "logs/file.log", "match": [[["arg_name", "==", "jack"]]]}},
	"upstream": {"type": "roundrobin", "nodes": {"UPSTREAM": 1}}, "uri": "/hello"}]` + "\n")
	get("/hello?name=rose")
	get("/hello?name=jack")
	ls := readLines(t, filepath.Join(dir, "file.log"), 3)
	if !strings.Contains(ls[2], `"uri":"/hello?name=jack"`) {
		t.Errorf("match: %s", ls[2])
	}

	// Delete Plugin: nothing more is logged.
	load(`routes: [{"id": "1", "methods": ["GET"], "uri": "/hello", "plugins": {}, "upstream": {"type": "roundrobin", "nodes": {"UPSTREAM": 1}}}]` + "\n")
	get("/hello?name=jack")
	// A route still logging, to know the goroutines had their chance.
	load(`routes: [{"id": "2", "uri": "/hello", "plugins": {"file-logger": {"path": "logs/other.log"}}, "upstream": {"nodes": {"UPSTREAM": 1}}}]` + "\n")
	get("/hello")
	readLines(t, filepath.Join(dir, "other.log"), 1)
	if ls := readLines(t, filepath.Join(dir, "file.log"), 3); len(ls) != 3 {
		t.Errorf("%d lines after the plugin was removed, want 3 (rose filtered out)", len(ls))
	}
}

// match with the response's status, for a request with a body (decided by
// the logger's goroutine on the saved head) and one without (on the
// loop); bodies in the file.
func TestE2EMatchAndBodies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Query().Get("fail") != "" {
			w.WriteHeader(500)
		}
		fmt.Fprintf(w, "got %d", len(b))
	}))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{filelogger.Def}, Routes: fmt.Sprintf(`
routes:
  - id: r
    uri: /*
    upstream: {nodes: {%q: 1}}
    plugins:
      file-logger:
        path: %q
        include_req_body: true
        include_resp_body: true
        max_req_body_bytes: 5
        match: [[[status, "==", "500"], [http_x_who, "==", "me"]]]
`, up, path)})
	for _, tt := range []struct{ method, target, who, body string }{
		{"POST", "/a?fail=1", "me", strings.Repeat("p", 100000)}, // logged: body request, 500, header
		{"POST", "/b?fail=1", "", "x"},                           // not: no header
		{"POST", "/c", "me", "x"},                                // not: 200
		{"GET", "/d?fail=1", "me", ""},                           // logged: decided on the loop
		{"GET", "/e", "me", ""},                                  // not
	} {
		rq, _ := http.NewRequest(tt.method, n.URL+tt.target, strings.NewReader(tt.body))
		if tt.who != "" {
			rq.Header.Set("X-Who", tt.who)
		}
		res, err := e2e.Client().Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	// A last entry that is logged, so that the file is complete up to it.
	rq, _ := http.NewRequest("GET", n.URL+"/z?fail=1", nil)
	rq.Header.Set("X-Who", "me")
	res, err := e2e.Client().Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	ls := readLines(t, path, 3)
	var got []string
	for _, l := range ls {
		var e struct {
			Request  struct{ URI, Body *string }
			Response struct{ Body *string }
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		s := func(p *string) string {
			if p == nil {
				return "-"
			}
			return *p
		}
		got = append(got, *e.Request.URI+" "+s(e.Request.Body)+" "+s(e.Response.Body))
	}
	if want := "/a?fail=1 ppppp got 100000|/d?fail=1 - got 0|/z?fail=1 - got 0"; strings.Join(got, "|") != want {
		t.Errorf("logged\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
}
