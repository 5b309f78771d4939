package proxyrewrite_test

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
		// ngx.re.sub: the rest of the path stays; $1_ is $1 then "_"; $$ a dollar.
		{`{"regex_uri":["/b/","/B/"]}`, "GET /iresty/a/B/c?x=1 HTTP/1.1|Host: example.com|X-Old: 1|X-Keep: k"},
		{`{"regex_uri":["^/iresty/(.*)/(.*)/(.*)","/${1}_$2_$3$$?a=c"]}`, "GET /a_b_c$?a=c&x=1 HTTP/1.1|Host: example.com|X-Old: 1|X-Keep: k"},
		{`{"regex_uri":["^/iresty/(\\w)(x)?","/$2$1"],"headers":{"set":{"X-Cap":"[$1$2]"}}}`,
			"GET /a/b/c?x=1 HTTP/1.1|Host: example.com|X-Old: 1|X-Keep: k|X-Cap: [a]"},
		{`{"regex_uri":["^/nomatch/(.*)","/$1"],"headers":{"set":{"X-Cap":"[$1]"}}}`,
			"GET /iresty/a/b/c?x=1 HTTP/1.1|Host: example.com|X-Old: 1|X-Keep: k|X-Cap: []"},
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
		`{"regex_uri":["(a)","/$2"]}`:       "regex_uri[0]: replacement \"/$2\": $2: the regex has 1 capture groups",
		`{"regex_uri":["a","/$uri"]}`:       "names no capture group",
		`{"regex_uri":["a","/${x}"]}`:       "want ${<group number>}",
		`{"headers":{"add":{"X":{"a":1}}}}`: "/headers",
		`{"headers":{"set":{"X":[]}}}`:      "/headers",
		`{"headers":{"set":{"a:b":"1"}}}`:   "/headers",
		`{"headers":{"X":["1"]}}`:           "/headers",
		`{"headers":{"remove":["a:b"]}}`:    "/headers",
		`{"host":"bad host"}`:               "/host",
	} {
		_, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"proxy-rewrite":` + conf + `}`})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", conf, err, want)
		}
	}
}

// APISIX's documented examples (docs/en/latest/plugins/proxy-rewrite.md):
// each page config with the request the page sends, and what the page's
// upstream (httpbin) shows it received. "Dynamically Forward Requests in
// radixtree_uri_with_parameter Router Mode" needs the router's captured
// parameters: it runs through the proxy in TestE2E.
func TestDocExamples(t *testing.T) {
	reg := plugintest.Registry(t, proxyrewrite.Def, keyauth.Def)
	john := map[string]string{"JohnDoe": `{"key-auth": {"key": "john-key"}}`}
	get := func(target string, fields ...string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1:9080\r\nUser-Agent: curl/8.6.0\r\nAccept: */*\r\n" + strings.Join(fields, "") + "\r\n"
	}
	for _, tt := range []struct {
		name, plugins, req string
		consumers          map[string]string
		status             int
		want, not          []string // in the upstream's head
	}{
		{name: "Rewrite Host Header", plugins: `{"proxy-rewrite": {"host": "myapisix.demo"}}`, req: get("/headers"),
			want: []string{"GET /headers HTTP/1.1\r\n", "Host: myapisix.demo\r\n"}},
		{name: "Rewrite URI And Set Headers", plugins: `{"proxy-rewrite": {"uri": "/anything", "headers": {"set": {"X-Api-Version": "v1", "X-Api-Engine": "apisix"}}}}`,
			req:  get("/", "X-Api-Version: v2\r\n"),
			want: []string{"GET /anything HTTP/1.1\r\n", "X-Api-Version: v1\r\n", "X-Api-Engine: apisix\r\n"}, not: []string{"v2"}},
		{name: "Rewrite URI And Append Headers", plugins: `{"proxy-rewrite": {"uri": "/headers", "headers": {"add": {"X-Api-Version": "v1", "X-Api-Engine": "apisix"}}}}`,
			req:  get("/", "X-Api-Version: v2\r\n"),
			want: []string{"GET /headers HTTP/1.1\r\n", "X-Api-Version: v2\r\n", "X-Api-Version: v1\r\n", "X-Api-Engine: apisix\r\n"}},
		{name: "Set or Append Multiple Values for the Same Header", plugins: `{"proxy-rewrite": {"uri": "/headers", "headers": {"set": {"X-Api-Version": ["v1", "v2"]}}}}`,
			req:  get("/", "X-Api-Version: v0\r\n"),
			want: []string{"GET /headers HTTP/1.1\r\n", "X-Api-Version: v1\r\n", "X-Api-Version: v2\r\n"}, not: []string{"v0"}},
		{name: "Remove Existing Header", plugins: `{"proxy-rewrite": {"headers": {"remove": ["User-Agent"]}}}`, req: get("/headers"),
			want: []string{"GET /headers HTTP/1.1\r\n", "Accept: */*\r\n"}, not: []string{"User-Agent"}},
		{name: "Rewrite URI Using RegEx", plugins: `{"proxy-rewrite": {"regex_uri": ["^/test/(.*)/(.*)", "/$1-$2"]}}`, req: get("/test/user/agent"),
			want: []string{"GET /user-agent HTTP/1.1\r\n"}},
		{name: "Add URL Parameters", plugins: `{"proxy-rewrite": {"uri": "/get?arg1=apisix&arg2=plugin"}}`, req: get("/get"),
			want: []string{"GET /get?arg1=apisix&arg2=plugin HTTP/1.1\r\n"}},
		{name: "Rewrite HTTP Method", plugins: `{"proxy-rewrite": {"uri": "/anything", "method": "POST"}}`, req: get("/get"),
			want: []string{"POST /anything HTTP/1.1\r\n"}},
		{name: "Forward Consumer Names to Upstream", consumers: john, req: get("/get", "apikey: john-key\r\n"),
			plugins: `{"key-auth": {}, "proxy-rewrite": {"headers": {"set": {"X-Apisix-Consumer": "$consumer_name"}, "remove": ["Apikey"]}}}`,
			want:    []string{"GET /get HTTP/1.1\r\n", "X-Apisix-Consumer: JohnDoe\r\n"}, not: []string{"john-key"}},
		{name: "Forward Consumer Names to Upstream, no key", consumers: john, req: get("/get"), status: 401,
			plugins: `{"key-auth": {}, "proxy-rewrite": {"headers": {"set": {"X-Apisix-Consumer": "$consumer_name"}, "remove": ["Apikey"]}}}`},
		// The attribute table's regex_uri pairs, and their captures in
		// header values. The table says /iresty/hello/world becomes
		// /iresty/hello-world and /theothers/hello/world /theothers; APISIX's
		// code (ngx.re.sub: the match replaced, the rest of the path kept)
		// gives /hello-world and /theothershello/world, and so does sluice.
		{name: "regex_uri pairs", plugins: `{"proxy-rewrite": {"regex_uri": ["^/iresty/(.*)/(.*)", "/$1-$2", "^/theothers/*", "/theothers"]}}`,
			req: get("/theothers/hello/world"), want: []string{"GET /theothershello/world HTTP/1.1\r\n"}},
		{name: "regex_uri captures in headers", plugins: `{"proxy-rewrite": {"regex_uri": ["^/iresty/(.*)/(.*)", "/$1-$2"], "headers": {"add": {"X-Caps": "$1-$2"}}}}`,
			req: get("/iresty/hello/world"), want: []string{"GET /hello-world HTTP/1.1\r\n", "X-Caps: hello-world\r\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: tt.plugins, Consumers: tt.consumers})
			r := plugintest.NewRequest(tt.req, "127.0.0.1:1")
			if res := r.Run(ch); res.Status != tt.status {
				t.Fatalf("status %d %s, want %d", res.Status, res.Body, tt.status)
			} else if res.Stopped() {
				return
			}
			got := r.Upstream()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in\n%s", w, got)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(got, w) {
					t.Errorf("unexpected %q in\n%s", w, got)
				}
			}
		})
	}
	// Older versions of the page.
	for _, conf := range []string{
		`{"uri":"/test/home.html","host":"iresty.com","headers":{"set":{"X-Api-Version":"v1","X-Api-Engine":"apisix","X-Api-useless":""},"add":{"X-Request-ID":"112233"},"remove":["X-test"]}}`,
		`{"regex_uri":["^/api/v1/(.*)","/anything/$1"]}`,
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
		got := r.Method + " " + r.RequestURI + " host=" + r.Host + " api=" + r.Header.Get("X-Api")
		if id, ok := r.Header["X-User-Id"]; ok {
			got += fmt.Sprintf(" user=%s apis=%v", id[0], r.Header["X-Api"])
		}
		seen <- got
		if r.Method != "HEAD" {
			io.WriteString(w, "body")
		}
	}))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{proxyrewrite.Def}, Routes: fmt.Sprintf(`
routes:
  - {id: a, uri: "/api/*", upstream: {nodes: {%q: 1}}, plugins: {proxy-rewrite: {regex_uri: ["^/api/(.*)", "/v2/$1"], host: up.internal, headers: {set: {X-Api: "$arg_id"}}}}}
  - {id: h, uri: "/head", upstream: {nodes: {%q: 1}}, plugins: {proxy-rewrite: {method: HEAD}}}
  - {id: httpbin, uri: "/anything/user/:user_id/profile", upstream: {nodes: {%q: 1}},
     plugins: {proxy-rewrite: {headers: {set: {X-User-Id: "$uri_param_user_id", X-Api: [v1, v2]}}}}}
`, up, up, up)})
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
	// The page's "Dynamically Forward Requests in radixtree_uri_with_parameter
	// Router Mode": the route's :user_id, percent-decoded as the page shows;
	// and a header set to two values.
	for path, want := range map[string]string{"/anything/user/123/profile": "123", "/anything/user/123%20456/profile": "123 456"} {
		resp, err := cl.Get(n.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := <-seen; resp.StatusCode != 200 || got != "GET "+path+" host="+n.Addr+" api=v1 user="+want+" apis=[v1 v2]" {
			t.Errorf("%s: %d; upstream saw %q", path, resp.StatusCode, got)
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
