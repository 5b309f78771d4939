package redirect_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/redirect"
)

func TestRedirect(t *testing.T) {
	reg := plugintest.Registry(t, redirect.Def)
	tests := []struct {
		conf, target string
		status       int
		location     string
	}{
		{`{"uri":"/test/default.html"}`, "/x", 302, "/test/default.html"},
		{`{"uri":"$uri/index.html","ret_code":301}`, "/dir?a=1", 301, "/dir/index.html"},
		{`{"uri":"https://example.com${request_uri}"}`, "/p?q=1", 302, "https://example.com/p?q=1"},
		{`{"uri":"/new$arg_missing"}`, "/p", 302, "/new"},
		{`{"uri":"/a\\$b"}`, "/p", 302, "/a$b"},
		{`{"uri":"/new","append_query_string":true}`, "/p?a=1&b=2", 302, "/new?a=1&b=2"},
		{`{"uri":"/new?x=1","append_query_string":true}`, "/p?a=1", 302, "/new?x=1&a=1"},
		{`{"regex_uri":["^/iresty/(.*)/(.*)/(.*)","/$1-$2-$3"]}`, "/iresty/a/b/c", 302, "/a-b-c"},
		{`{"regex_uri":["^/iresty/(.*)/(.*)/(.*)","/$1-$2-$3"]}`, "/other", 0, ""},
		{`{"uri":"/some path/ü","encode_uri":true}`, "/p", 302, "/some%20path/%C3%BC"},
		{`{"http_to_https":true}`, "/p?a=1", 301, "https://example.com/p?a=1"},
		{`{"http_to_https":true}`, "POST /p", 308, "https://example.com/p"},
		{`{"http_to_https":true}`, "HEAD /p", 301, "https://example.com/p"},
		{`{"http_to_https":true,"ret_code":302}`, "/p", 301, "https://example.com/p"},
		{`{"http_to_https":true}`, "/p\r\nX-Forwarded-Proto: https", 0, ""},
		{`{"http_to_https":true}`, "/p\r\nX-Forwarded-Proto: http", 301, "https://example.com/p"},
		// regex_uri substitutes as ngx.re.sub: the rest of the path stays.
		{`{"regex_uri":["/b/","/B/"]}`, "/a/b/c?q", 302, "/a/B/c"},
		{`{"regex_uri":["^/(\\w+)/(\\w+)","/${2}_$1"],"append_query_string":true}`, "/a/b/c?q=1", 302, "/b_a/c?q=1"},
		// encode_uri encodes the path part only; append_query_string needs a '?'.
		{`{"uri":"/a b?c d","encode_uri":true}`, "/p", 302, "/a%20b?c d"},
		{`{"uri":"/new","append_query_string":true}`, "/p?", 302, "/new?"},
		{`{"uri":"/new","append_query_string":true}`, "/p", 302, "/new"},
	}
	for _, tt := range tests {
		t.Run(tt.conf+" "+tt.target, func(t *testing.T) {
			ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"redirect":` + tt.conf + `}`})
			// tt.target: [method ]target[\r\nmore fields]
			method, target := "GET", tt.target
			if m, rest, ok := strings.Cut(target, " /"); ok {
				method, target = m, "/"+rest
			}
			target, more, _ := strings.Cut(target, "\r\n")
			if more != "" {
				more += "\r\n"
			}
			r := plugintest.NewRequest(method+" "+target+" HTTP/1.1\r\nHost: example.com:8080\r\n"+more+"\r\n", "127.0.0.1:1")
			res := r.Run(ch)
			if res.Status != tt.status {
				t.Fatalf("status %d, want %d", res.Status, tt.status)
			}
			if got := r.RespHeaders(); tt.status != 0 && got != "Location: "+tt.location+"\r\n" {
				t.Errorf("headers %q, want Location %s", got, tt.location)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	reg := plugintest.Registry(t, redirect.Def)
	for conf, want := range map[string]string{
		`{}`:                                 "set exactly one of uri, regex_uri and http_to_https",
		`{"uri":"/a","regex_uri":["a","b"]}`: "set exactly one of",
		`{"http_to_https":true,"append_query_string":true}`: "append_query_string cannot be set",
		`{"regex_uri":["(","b"]}`:                           "regex_uri: error parsing regexp",
		`{"regex_uri":["(a)","/$2"]}`:                       "regex_uri: replacement",
		`{"uri":"/a${x"}`:                                   "unclosed",
		`{"uri":"/a","ret_code":100}`:                       "/ret_code",
	} {
		_, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"redirect":` + conf + `}`})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", conf, err, want)
		}
	}
}

// APISIX's documented examples (docs/en/latest/plugins/redirect.md) with
// the Location the page shows; http_to_https's runs through the proxy in
// TestE2E (it needs the node's plugin_attr).
func TestDocExamples(t *testing.T) {
	reg := plugintest.Registry(t, redirect.Def)
	for _, tt := range []struct{ conf, target, location string }{
		{`{"uri": "/test/default.html", "ret_code": 301}`, "/test/index.html", "/test/default.html"},
		{`{"uri": "$uri/index.html", "ret_code": 301}`, "/test", "/test/index.html"},
	} {
		ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"redirect":` + tt.conf + `}`})
		r := plugintest.NewRequest("GET "+tt.target+" HTTP/1.1\r\nHost: 127.0.0.1:9080\r\n\r\n", "127.0.0.1:1")
		if res := r.Run(ch); res.Status != 301 || r.RespHeaders() != "Location: "+tt.location+"\r\n" {
			t.Errorf("%s: %d %q, want 301 Location: %s", tt.conf, res.Status, r.RespHeaders(), tt.location)
		}
	}
	// The attribute table's values, and older versions of the page.
	for _, conf := range []string{
		`{"uri":"${uri}/index.html"}`,
		`{"regex_uri":["^/iresty/(.*)/(.*)/(.*)","/$1-$2-$3"]}`,
		`{"uri":"https://example.com/foo/bar","ret_code":301}`,
		`{"uri":"/anything","append_query_string":true}`,
		`{"uri":"/test/index.html","encode_uri":true}`,
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"redirect":` + conf + `}`}); err != nil {
			t.Errorf("%s: %v", conf, err)
		}
	}
}

func TestE2E(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream") }))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{redirect.Def}, Config: "plugin_attr: {redirect: {https_port: 9443}}\n", Routes: fmt.Sprintf(`
routes:
  - {id: r, uri: "/*", upstream: {nodes: {%q: 1}}, plugins: {redirect: {regex_uri: ["^/old/(.*)", "/new/$1"], ret_code: 301}}}
  - {id: only, uri: "/moved", plugins: {redirect: {uri: "/elsewhere"}}}
  - {id: "1", uri: "/hello", plugins: {redirect: {http_to_https: true}}}
`, up)})
	cl := e2e.Client()
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := cl.Get(n.URL + "/old/x?y=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "/new/x" || len(b) != 0 {
		t.Errorf("%d %v %q", resp.StatusCode, resp.Header, b)
	}
	resp, err = cl.Get(n.URL + "/moved")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/elsewhere" {
		t.Errorf("a route with no upstream: %d %v", resp.StatusCode, resp.Header)
	}
	// The page's http_to_https example, with its plugin_attr port.
	resp, err = cl.Get(n.URL + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "https://127.0.0.1:9443/hello"; resp.StatusCode != 301 || resp.Header.Get("Location") != want {
		t.Errorf("http_to_https: %d %v, want 301 to %s", resp.StatusCode, resp.Header, want)
	}
	resp, err = cl.Post(n.URL+"/hello", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 308 {
		t.Errorf("http_to_https of a POST: %d, want 308", resp.StatusCode)
	}
	resp, err = cl.Get(n.URL + "/other")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "upstream" {
		t.Errorf("not matching: %d %q", resp.StatusCode, b)
	}
}
