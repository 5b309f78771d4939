package proxyrewrite_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/proxyrewrite"
)

const req = "GET /iresty/a/b/c?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Old: 1\r\nX-Keep: k\r\n\r\n"

func TestRewrite(t *testing.T) {
	reg := plugintest.Registry(t, proxyrewrite.Def)
	tests := []struct {
		conf string
		want string // the upstream's head, its lines joined by "|"
	}{
		{`{"uri":"/test/home.html"}`, "GET /test/home.html?x=1 HTTP/1.1|Host: example.com|X-Old: 1|X-Keep: k"},
		{`{"uri":"/new/$arg_x/p q"}`, "GET /new/1/p%20q?x=1 HTTP/1.1|Host: example.com|X-Old: 1|X-Keep: k"},
		{`{"uri":"/q?y=2"}`, "GET /q?y=2&x=1 HTTP/1.1|Host: example.com|X-Old: 1|X-Keep: k"},
		{`{"regex_uri":["^/nomatch","/no","^/iresty/(.*)/(.*)/(.*)","/$1-$2-$3"]}`, "GET /a-b-c?x=1 HTTP/1.1|Host: example.com|X-Old: 1|X-Keep: k"},
		{`{"regex_uri":["^/nomatch","/no"]}`, "GET /iresty/a/b/c?x=1 HTTP/1.1|Host: example.com|X-Old: 1|X-Keep: k"},
		{`{"method":"POST","host":"iresty.com"}`, "POST /iresty/a/b/c?x=1 HTTP/1.1|Host: iresty.com|X-Old: 1|X-Keep: k"},
		{`{"headers":{"add":{"X-Keep":"k2"},"set":{"X-Api":"v-$remote_addr","X-Num":5},"remove":["X-Old"]}}`,
			"GET /iresty/a/b/c?x=1 HTTP/1.1|Host: example.com|X-Keep: k|X-Keep: k2|X-Api: v-127.0.0.1|X-Num: 5"},
		{`{"headers":{"X-Api":"v","X-Old":""}}`, "GET /iresty/a/b/c?x=1 HTTP/1.1|Host: example.com|X-Keep: k|X-Api: v"},
		{`{"uri":"/x","use_real_request_uri_unsafe":true}`, "GET /iresty/a/b/c?x=1 HTTP/1.1|Host: example.com|X-Old: 1|X-Keep: k"},
	}
	for _, tt := range tests {
		t.Run(tt.conf, func(t *testing.T) {
			ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"proxy-rewrite":` + tt.conf + `}`})
			r := plugintest.NewRequest(req, "127.0.0.1:1")
			if res := r.Run(ch); res.Stopped() {
				t.Fatal(res.Status)
			}
			lines := strings.Split(strings.TrimSuffix(r.Upstream(), "\r\n\r\n"), "\r\n")
			if got := strings.Join(lines, "|"); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	reg := plugintest.Registry(t, proxyrewrite.Def)
	for conf, want := range map[string]string{
		`{}`:                                "minProperties",
		`{"uri":"noslash"}`:                 "/uri",
		`{"method":"FETCH"}`:                "/method",
		`{"regex_uri":["a","b","c"]}`:       "want pairs",
		`{"regex_uri":["(","b"]}`:           "regex_uri[0]",
		`{"headers":{"add":{"X":{"a":1}}}}`: "/headers",
		`{"headers":{"remove":["a:b"]}}`:    "/headers",
		`{"host":"bad host"}`:               "/host",
	} {
		_, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"proxy-rewrite":` + conf + `}`})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", conf, err, want)
		}
	}
}

// APISIX's documented examples.
func TestDocExamples(t *testing.T) {
	reg := plugintest.Registry(t, proxyrewrite.Def)
	for _, conf := range []string{
		`{"uri":"/test/home.html","host":"iresty.com","headers":{"set":{"X-Api-Version":"v1","X-Api-Engine":"apisix","X-Api-useless":""},"add":{"X-Request-ID":"112233"},"remove":["X-test"]}}`,
		`{"uri":"/anything"}`,
		`{"regex_uri":["^/api/v1/(.*)","/anything/$1"]}`,
		`{"host":"httpbin.org"}`,
		`{"method":"POST"}`,
		`{"headers":{"set":{"X-Api-Version":"v1"}}}`,
		`{"headers":{"X-Api-Version":"v1","X-Api-Engine":"apisix"}}`,
		`{"uri":"/$consumer_name/get"}`,
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"proxy-rewrite":` + conf + `}`}); err != nil {
			t.Errorf("%s: %v", conf, err)
		}
	}
}

func TestE2E(t *testing.T) {
	seen := make(chan string, 4)
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Method + " " + r.RequestURI + " host=" + r.Host + " api=" + r.Header.Get("X-Api")
		if r.Method != "HEAD" {
			io.WriteString(w, "body")
		}
	}))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{proxyrewrite.Def}, Routes: fmt.Sprintf(`
routes:
  - {id: a, uri: "/api/*", upstream: {nodes: {%q: 1}}, plugins: {proxy-rewrite: {regex_uri: ["^/api/(.*)", "/v2/$1"], host: up.internal, headers: {set: {X-Api: "$arg_id"}}}}}
  - {id: h, uri: "/head", upstream: {nodes: {%q: 1}}, plugins: {proxy-rewrite: {method: HEAD}}}
`, up, up)})
	cl := e2e.Client()
	for range 2 {
		resp, err := cl.Get(n.URL + "/api/items?id=7")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := <-seen; resp.StatusCode != 200 || string(b) != "body" || got != "GET /v2/items?id=7 host=up.internal api=7" {
			t.Errorf("%d %q; upstream saw %q", resp.StatusCode, b, got)
		}
	}
	// A GET rewritten to HEAD: the upstream's answer has no body, and the
	// connection goes on.
	for range 2 {
		resp, err := cl.Get(n.URL + "/head")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := <-seen; resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != 0 || !strings.HasPrefix(got, "HEAD /head") {
			t.Errorf("%d %q; upstream saw %q", resp.StatusCode, b, got)
		}
	}
}
