package responserewrite_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/keyauth"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/responserewrite"
)

func TestHead(t *testing.T) {
	reg := plugintest.Registry(t, responserewrite.Def)
	const up = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Old: 1\r\n\r\n"
	tests := []struct{ conf, resp, want string }{
		{`{"status_code":201,"headers":{"set":{"X-Server-id":"3"},"remove":["X-Old"]}}`, up,
			"HTTP/1.1 201 Created|Content-Length: 2|X-Server-id: 3"},
		{`{"headers":{"add":["X-A: $remote_addr","X-A:2"]}}`, up, "HTTP/1.1 200 OK|Content-Length: 2|X-Old: 1|X-A: 127.0.0.1|X-A: 2"},
		{`{"headers":{"X-Old":"","X-B":"b"}}`, up, "HTTP/1.1 200 OK|Content-Length: 2|X-B: b"},
		{`{"status_code":403,"vars":[["status","==",500]]}`, up, "HTTP/1.1 200 OK|Content-Length: 2|X-Old: 1"},
		{`{"status_code":403,"vars":[["status","==",500]]}`, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
			"HTTP/1.1 403 Forbidden|Content-Length: 0"},
		// A new body: the upstream's encoding and cache validators go.
		{`{"body":"x"}`, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nETag: \"e\"\r\nLast-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\nX-Old: 1\r\n\r\n",
			"HTTP/1.1 200 OK|X-Old: 1"},
		{`{"filters":[{"regex":"a","replace":"b"}]}`, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nETag: \"e\"\r\n\r\n", "HTTP/1.1 200 OK"},
		// An encoding the filters cannot read: left as it is.
		{`{"filters":[{"regex":"a","replace":"b"}]}`, "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nETag: \"e\"\r\n\r\n",
			"HTTP/1.1 200 OK|Content-Encoding: br|ETag: \"e\""},
	}
	for _, tt := range tests {
		t.Run(tt.conf, func(t *testing.T) {
			ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"response-rewrite":` + tt.conf + `}`})
			r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "127.0.0.1:1")
			r.Run(ch)
			got := strings.Join(strings.Split(strings.TrimSuffix(r.Respond(tt.resp), "\r\n\r\n"), "\r\n"), "|")
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func gz(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	io.WriteString(w, s)
	w.Close()
	return b.String()
}

// body runs a response through the route's body filter, in the given
// chunks, and returns what the client gets.
func body(t *testing.T, conf, respHead string, chunks ...string) string {
	t.Helper()
	reg := plugintest.Registry(t, responserewrite.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"response-rewrite":` + conf + `}`})
	r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "127.0.0.1:1")
	r.Run(ch)
	r.Respond(respHead)
	var out strings.Builder
	for i, c := range chunks {
		out.Write(r.Ctx.BodyFilter([]byte(c), i == len(chunks)-1))
	}
	return out.String()
}

func TestFilters(t *testing.T) {
	const plain = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	const gzipped = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, tt := range []struct {
		name, conf, head string
		chunks           []string
		want             string
	}{
		{"once", `{"filters":[{"regex":"o","replace":"0"}]}`, plain, []string{"foo ", "boo", ""}, "f0o boo"},
		{"global, across chunks", `{"filters":[{"regex":"oo","scope":"global","replace":"OO"}]}`, plain, []string{"fo", "o bo", "o"}, "fOO bOO"},
		{"captures", `{"filters":[{"regex":"(\\w+)@(\\w+)","scope":"global","replace":"$2 at $1"}]}`, plain, []string{"a@b c@d"}, "b at a d at c"},
		{"in order", `{"filters":[{"regex":"a","replace":"b","scope":"global"},{"regex":"b","replace":"c"}]}`, plain, []string{"aa"}, "cb"},
		{"no match", `{"filters":[{"regex":"z","replace":"y"}]}`, plain, []string{"abc"}, "abc"},
		{"options: i", `{"filters":[{"regex":"HELLO","replace":"bye","options":"ijo"}]}`, plain, []string{"hello"}, "bye"},
		{"default options are case-sensitive", `{"filters":[{"regex":"HELLO","replace":"bye"}]}`, plain, []string{"hello"}, "hello"},
		{"gzip decoded", `{"filters":[{"regex":"secret","scope":"global","replace":"***"}]}`, gzipped, []string{gz("a secret, b secret")[:7], gz("a secret, b secret")[7:], ""}, "a ***, b ***"},
		{"cut at max_resp_body_size", `{"max_resp_body_size":5,"filters":[{"regex":"a","scope":"global","replace":"b"}]}`, plain, []string{"aaa", "aaa", "aaa"}, "bbbbb"},
		{"vars not matched", `{"vars":[["status","==",500]],"filters":[{"regex":"a","replace":"b"}]}`, plain, []string{"a", "a"}, "aa"},
		{"br passes untouched", `{"filters":[{"regex":"a","replace":"b"}]}`, "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nTransfer-Encoding: chunked\r\n\r\n", []string{"a", "a"}, "aa"},
		{"body replaces", `{"body":"new"}`, plain, []string{"old", "old", ""}, "new"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := body(t, tt.conf, tt.head, tt.chunks...); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	reg := plugintest.Registry(t, responserewrite.Def)
	for conf, want := range map[string]string{
		`{"body_base64":true}`:                                    "body",
		`{"body":"%%%","body_base64":true}`:                       "not base64",
		`{"status_code":700}`:                                     "/status_code",
		`{"body":"a","filters":[{"regex":"a","replace":"b"}]}`:    "'not' failed",
		`{"filters":[{"regex":"a"}]}`:                             "missing property 'replace'",
		`{"filters":[{"regex":"(","replace":"b"}]}`:               "filters[0]: error parsing regexp",
		`{"filters":[{"regex":"a","replace":"$1"}]}`:              "filters[0]: replacement",
		`{"filters":[{"regex":"a","replace":"b","options":"x"}]}`: "filters[0]: regex option 'x' is not supported",
		`{"filters":[{"regex":"a","replace":"b","scope":"all"}]}`: "/filters/0/scope",
		`{"filters":[]}`:                                          "/filters",
		`{"max_resp_body_size":0}`:                                "/max_resp_body_size",
		`{"headers":{"add":{"X-A":"1"}}}`:                         "/headers/add: got object, want array",
		`{"headers":{"add":["X-A"]}}`:                             "/headers/add/0",
		`{"headers":{"add":["X-A: http://a/"]}}`:                  "/headers/add/0",
		`{"headers":{"set":{"X-A":["1"]}}}`:                       "/headers",
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"response-rewrite":` + conf + `}`}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", conf, err, want)
		}
	}
}

// APISIX's documented examples (docs/en/latest/plugins/response-rewrite.md)
// run through the proxy, as the page sends them, in TestDocExamplesE2E;
// older versions of the page here.
func TestDocExamples(t *testing.T) {
	reg := plugintest.Registry(t, responserewrite.Def)
	for _, conf := range []string{
		`{"status_code":403,"body":"Forbidden","vars":[["status","==",200]]}`,
		`{"headers":{"add":["X-Server-id: 3"],"remove":["X-Server-status"]}}`,
		`{"body":"{\"code\":\"ok\",\"message\":\"new json body\"}","headers":{"X-Server-id":3,"X-Server-status":"on","X-Server-balancer_addr":"$balancer_ip:$balancer_port"},"vars":[["status","==",200]]}`,
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"response-rewrite":` + conf + `}`}); err != nil {
			t.Errorf("%s: %v", conf, err)
		}
	}
}

// The page's four examples through the proxy: a real upstream standing in
// for httpbin.
func TestDocExamplesE2E(t *testing.T) {
	var upAddr string
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"headers": {"Accept": "*/*", "Host": "127.0.0.1", "X-Amzn-Trace-Id": "Root=1-64f16a4b"}}`)
	}))
	upAddr = up
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{responserewrite.Def, keyauth.Def}, Routes: fmt.Sprintf(`
consumers: [{username: jack, plugins: {key-auth: {key: jack-key}}}]
routes:
  - {id: header-body, uri: /headers, methods: [GET], upstream: {nodes: {%[1]q: 1}}, plugins: {response-rewrite: {
      body: "{\"code\":\"ok\",\"message\":\"new json body\"}",
      headers: {set: {X-Server-id: 3, X-Server-status: "on", X-Server-balancer-addr: "$balancer_ip:$balancer_port"}},
      vars: [["status", "==", 200]]}}}
  - {id: filter, uri: /headers2, methods: [GET], upstream: {nodes: {%[1]q: 1}}, plugins: {response-rewrite: {
      filters: [{regex: X-Amzn-Trace-Id, scope: global, replace: X-Amzn-Trace-Id-Replace}]}}}
  - {id: base64, uri: /get, methods: [GET], upstream: {nodes: {%[1]q: 1}}, plugins: {response-rewrite: {body: SGVsbG8gV29ybGQ=, body_base64: true}}}
  - {id: phases, uri: /get2, upstream: {nodes: {%[1]q: 1}}, plugins: {key-auth: {}, response-rewrite: {status_code: 200, body: "{\"code\": 200, \"msg\": \"success\"}"}}}
`, up)})
	cl := e2e.Client()
	get := func(path string, fields ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", n.URL+path, nil)
		for i := 0; i+1 < len(fields); i += 2 {
			req.Header.Set(fields[i], fields[i+1])
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	// "Rewrite Header and Body".
	resp, b := get("/headers")
	if resp.StatusCode != 200 || b != `{"code":"ok","message":"new json body"}` || resp.Header.Get("X-Server-id") != "3" ||
		resp.Header.Get("X-Server-status") != "on" || resp.Header.Get("X-Server-balancer-addr") != upAddr {
		t.Errorf("Rewrite Header and Body: %d %q %v", resp.StatusCode, b, resp.Header)
	}
	// "Rewrite Header With RegEx Filter" (the page's route is /headers too).
	resp, b = get("/headers2")
	if want := `{"headers": {"Accept": "*/*", "Host": "127.0.0.1", "X-Amzn-Trace-Id-Replace": "Root=1-64f16a4b"}}`; resp.StatusCode != 200 || b != want {
		t.Errorf("Rewrite Header With RegEx Filter: %d %q, want %q", resp.StatusCode, b, want)
	}
	// "Decode Body from Base64".
	if resp, b = get("/get"); resp.StatusCode != 200 || b != "Hello World" {
		t.Errorf("Decode Body from Base64: %d %q", resp.StatusCode, b)
	}
	// "Rewrite Response and Its Connection with Execution Phases": 200 and
	// the body with the key, and without it (key-auth's 401 rewritten).
	for _, key := range []string{"jack-key", ""} {
		resp, b = get("/get2", "apikey", key)
		if resp.StatusCode != 200 || b != `{"code": 200, "msg": "success"}` {
			t.Errorf("Execution Phases, key %q: %d %q", key, resp.StatusCode, b)
		}
	}
}

func TestE2E(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Write([]byte(strings.Repeat("x", 200000)))
			return
		}
		if r.URL.Path == "/gz" {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("ETag", `"v1"`)
			io.WriteString(w, gz(strings.Repeat("token=abc; ", 5000)))
			return
		}
		io.WriteString(w, "original")
	}))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{responserewrite.Def, keyauth.Def}, Routes: fmt.Sprintf(`
consumers: [{username: jack, plugins: {key-auth: {key: k}}}]
routes:
  - {id: a, uri: "/*", upstream: {nodes: {%q: 1}}, plugins: {response-rewrite: {status_code: 202, body: "replaced", headers: {set: {X-R: "1"}}}}}
  - {id: b, uri: "/auth", upstream: {nodes: {%q: 1}}, plugins: {key-auth: {}, response-rewrite: {body: "{\"message\":\"go away\"}", vars: [["status", "==", 401]]}}}
  - {id: g, uri: "/gz", upstream: {nodes: {%q: 1}}, plugins: {response-rewrite: {filters: [{regex: "token=\\w+", scope: global, replace: "token=***"}]}}}
`, up, up, up)})
	cl := e2e.Client()
	for _, path := range []string{"/x", "/big", "/x"} {
		resp, err := cl.Get(n.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 202 || string(b) != "replaced" || resp.Header.Get("X-R") != "1" {
			t.Errorf("%s: %d %q %v", path, resp.StatusCode, b, resp.Header)
		}
	}
	// A gzip body, edited: the client gets it decoded, without the
	// upstream's encoding and ETag.
	req, _ := http.NewRequest("GET", n.URL+"/gz", nil)
	req.Header.Set("Accept-Encoding", "gzip") // no transparent decoding by the client
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := strings.Repeat("token=***; ", 5000); resp.StatusCode != 200 || string(b) != want ||
		resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("ETag") != "" {
		t.Errorf("gzip filtered: %d %v %.60q", resp.StatusCode, resp.Header, b)
	}
	resp, err = cl.Get(n.URL + "/auth")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || string(b) != `{"message":"go away"}` {
		t.Errorf("a stop's body: %d %q", resp.StatusCode, b)
	}
}
