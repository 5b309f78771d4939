package responserewrite_test

import (
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
		{`{"headers":{"add":{"X-A":"$remote_addr"}}}`, up, "HTTP/1.1 200 OK|Content-Length: 2|X-Old: 1|X-A: 127.0.0.1"},
		{`{"headers":{"X-Old":"","X-B":"b"}}`, up, "HTTP/1.1 200 OK|Content-Length: 2|X-B: b"},
		{`{"status_code":403,"vars":[["status","==",500]]}`, up, "HTTP/1.1 200 OK|Content-Length: 2|X-Old: 1"},
		{`{"status_code":403,"vars":[["status","==",500]]}`, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
			"HTTP/1.1 403 Forbidden|Content-Length: 0"},
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

// APISIX's documented examples.
func TestDocExamples(t *testing.T) {
	reg := plugintest.Registry(t, responserewrite.Def)
	for _, conf := range []string{
		`{"body":"{\"code\":\"ok\",\"message\":\"new json body\"}","headers":{"set":{"X-Server-id":3,"X-Server-status":"on","X-Server-balancer-addr":"$balancer_ip:$balancer_port"}},"vars":[["status","==",200]]}`,
		`{"body":"SGVsbG8gV29ybGQ=","body_base64":true}`,
		`{"status_code":403,"body":"Forbidden","vars":[["status","==",200]]}`,
		`{"headers":{"add":{"X-Server-id":"3"},"remove":["X-Server-status"]}}`,
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"response-rewrite":` + conf + `}`}); err != nil {
			t.Errorf("%s: %v", conf, err)
		}
	}
	for conf, want := range map[string]string{
		`{"filters":[{"regex":"a","replace":"b"}]}`: "additional properties 'filters' not allowed",
		`{"body_base64":true}`:                      "body",
		`{"body":"%%%","body_base64":true}`:         "not base64",
		`{"status_code":700}`:                       "/status_code",
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"response-rewrite":` + conf + `}`}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", conf, err, want)
		}
	}
}

func TestE2E(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Write([]byte(strings.Repeat("x", 200000)))
			return
		}
		io.WriteString(w, "original")
	}))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{responserewrite.Def, keyauth.Def}, Routes: fmt.Sprintf(`
consumers: [{username: jack, plugins: {key-auth: {key: k}}}]
routes:
  - {id: a, uri: "/*", upstream: {nodes: {%q: 1}}, plugins: {response-rewrite: {status_code: 202, body: "replaced", headers: {set: {X-R: "1"}}}}}
  - {id: b, uri: "/auth", upstream: {nodes: {%q: 1}}, plugins: {key-auth: {}, response-rewrite: {body: "{\"message\":\"go away\"}", vars: [["status", "==", 401]]}}}
`, up, up)})
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
	resp, err := cl.Get(n.URL + "/auth")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || string(b) != `{"message":"go away"}` {
		t.Errorf("a stop's body: %d %q", resp.StatusCode, b)
	}
}
