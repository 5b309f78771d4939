package cors_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/cors"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// cors runs one GET (with Origin when origin is set, and
// Access-Control-Request-Headers: X-A) through a cors route and returns
// the response fields the plugin set, "|"-joined.
func corsFields(t *testing.T, cfg plugintest.Config, origin string) string {
	t.Helper()
	reg := plugintest.Registry(t, cors.Def)
	ch := plugintest.MustBuild(t, reg, cfg)
	h := "Access-Control-Request-Headers: X-A\r\n"
	if origin != "" {
		h += "Origin: " + origin + "\r\n"
	}
	r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n"+h+"\r\n", "127.0.0.1:1")
	if res := r.Run(ch); res.Stopped() {
		t.Fatalf("stopped: %d %s", res.Status, res.Body)
	}
	r.Respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	return strings.Join(strings.Split(strings.TrimSuffix(r.RespHeaders(), "\r\n"), "\r\n"), "|")
}

const allMethods = "GET,POST,PUT,DELETE,PATCH,HEAD,OPTIONS,CONNECT,TRACE"

func TestHeaders(t *testing.T) {
	tests := []struct{ name, conf, origin, want string }{
		{"defaults: * sent as *", `{}`, "http://a.com",
			"Access-Control-Allow-Origin: *|Access-Control-Allow-Methods: *|Access-Control-Max-Age: 5|Access-Control-Allow-Headers: *"},
		{"* without an Origin", `{}`, "",
			"Access-Control-Allow-Origin: *|Access-Control-Allow-Methods: *|Access-Control-Max-Age: 5|Access-Control-Allow-Headers: *"},
		{"list", `{"allow_origins":"http://a.com,http://b.com","allow_methods":"GET,POST","allow_headers":"X-B","expose_headers":"X-C","max_age":60,"allow_credential":true}`, "http://b.com",
			"Vary: Origin|Access-Control-Allow-Origin: http://b.com|Access-Control-Allow-Methods: GET,POST|Access-Control-Max-Age: 60|Access-Control-Expose-Headers: X-C|Access-Control-Allow-Headers: X-B|Access-Control-Allow-Credentials: true"},
		{"list, not listed", `{"allow_origins":"http://a.com,http://b.com"}`, "http://c.com", "Vary: Origin"},
		{"one origin", `{"allow_origins":"http://a.com"}`, "http://a.com",
			"Vary: Origin|Access-Control-Allow-Origin: http://a.com|Access-Control-Allow-Methods: *|Access-Control-Max-Age: 5|Access-Control-Allow-Headers: *"},
		{"one origin, another", `{"allow_origins":"http://a.com"}`, "http://evil.com", "Vary: Origin"},
		{"one origin, none", `{"allow_origins":"http://a.com"}`, "", "Vary: Origin"},
		{"null", `{"allow_origins":"null"}`, "null",
			"Vary: Origin|Access-Control-Allow-Origin: null|Access-Control-Allow-Methods: *|Access-Control-Max-Age: 5|Access-Control-Allow-Headers: *"},
		{"** echoes", `{"allow_origins":"**","allow_methods":"**","allow_headers":"**"}`, "http://any.org",
			"Vary: Origin|Access-Control-Allow-Origin: http://any.org|Access-Control-Allow-Methods: " + allMethods + "|Access-Control-Max-Age: 5|Access-Control-Allow-Headers: X-A"},
		{"** without an Origin", `{"allow_origins":"**","allow_methods":"GET"}`, "",
			"Vary: Origin|Access-Control-Allow-Origin: *|Access-Control-Allow-Methods: GET|Access-Control-Max-Age: 5|Access-Control-Allow-Headers: *"},
		{"empty expose_headers is not sent", `{"expose_headers":""}`, "http://a.com",
			"Access-Control-Allow-Origin: *|Access-Control-Allow-Methods: *|Access-Control-Max-Age: 5|Access-Control-Allow-Headers: *"},
		{"regex", `{"allow_origins":"http://x.com","allow_origins_by_regex":[".*\\.test.com$"]}`, "http://a.test.com",
			"Vary: Origin|Access-Control-Allow-Origin: http://a.test.com|Access-Control-Allow-Methods: *|Access-Control-Max-Age: 5|Access-Control-Allow-Headers: *"},
		{"regex set: allow_origins not used", `{"allow_origins":"http://x.com","allow_origins_by_regex":[".*\\.test.com$"]}`, "http://x.com", "Vary: Origin"},
		{"regex set: not even *", `{"allow_origins_by_regex":[".*\\.test.com$"]}`, "http://a.test2.com", ""},
		{"regex, no Origin", `{"allow_origins_by_regex":[".*"]}`, "", ""},
		{"timing list", `{"allow_origins":"http://a.com","timing_allow_origins":"http://a.com,http://b.com"}`, "http://b.com",
			"Vary: Origin|Timing-Allow-Origin: http://b.com"},
		{"timing *", `{"timing_allow_origins":"*"}`, "http://a.com",
			"Access-Control-Allow-Origin: *|Access-Control-Allow-Methods: *|Access-Control-Max-Age: 5|Access-Control-Allow-Headers: *|Timing-Allow-Origin: *"},
		{"timing regex over list", `{"allow_origins":"http://a.com","timing_allow_origins":"http://b.com","timing_allow_origins_by_regex":["^http://b\\."]}`, "http://b.org",
			"Vary: Origin|Timing-Allow-Origin: http://b.org"},
		{"timing regex, no match", `{"allow_origins":"http://a.com","timing_allow_origins_by_regex":["^http://b\\."]}`, "http://a.com",
			"Vary: Origin|Access-Control-Allow-Origin: http://a.com|Access-Control-Allow-Methods: *|Access-Control-Max-Age: 5|Access-Control-Allow-Headers: *"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := corsFields(t, plugintest.Config{Route: `{"cors":` + tt.conf + `}`}, tt.origin); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// allow_origins_by_metadata: the keys' origins from plugin_metadata, then
// (when they do not allow the origin) allow_origins unless it is "*".
func TestMetadata(t *testing.T) {
	md := map[string]string{"cors": `{"allow_origins":{"one":"https://a.com","list":"https://b.com,https://c.com","star":"*","echo":"**"}}`}
	const allowed = "|Access-Control-Allow-Methods: *|Access-Control-Max-Age: 5|Access-Control-Allow-Headers: *"
	tests := []struct{ name, conf, origin, want string }{
		{"one", `{"allow_origins_by_metadata":["one"]}`, "https://a.com", "Access-Control-Allow-Origin: https://a.com" + allowed},
		{"list", `{"allow_origins_by_metadata":["one","list"]}`, "https://c.com", "Access-Control-Allow-Origin: https://c.com" + allowed},
		{"not listed, allow_origins *: nothing", `{"allow_origins_by_metadata":["one","list"]}`, "https://d.com", ""},
		{"* in metadata echoes", `{"allow_origins_by_metadata":["star"]}`, "https://d.com", "Access-Control-Allow-Origin: https://d.com" + allowed},
		{"** in metadata echoes", `{"allow_origins_by_metadata":["echo"]}`, "https://d.com", "Access-Control-Allow-Origin: https://d.com" + allowed},
		{"a key the metadata lacks", `{"allow_origins_by_metadata":["nope"]}`, "https://a.com", ""},
		{"no Origin", `{"allow_origins_by_metadata":["star"]}`, "", ""},
		{"falls back to allow_origins", `{"allow_origins_by_metadata":["one"],"allow_origins":"https://e.com"}`, "https://e.com",
			"Vary: Origin|Access-Control-Allow-Origin: https://e.com" + allowed},
		{"falls back to the regex", `{"allow_origins_by_metadata":["one"],"allow_origins":"https://e.com","allow_origins_by_regex":["f"]}`, "https://f.com",
			"Vary: Origin|Access-Control-Allow-Origin: https://f.com" + allowed},
		{"no fallback to the regex with allow_origins *", `{"allow_origins_by_metadata":["one"],"allow_origins_by_regex":["f"]}`, "https://f.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := plugintest.Config{Route: `{"cors":` + tt.conf + `}`, Metadata: md}
			if got := corsFields(t, cfg, tt.origin); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	t.Run("no metadata", func(t *testing.T) {
		if got := corsFields(t, plugintest.Config{Route: `{"cors":{"allow_origins_by_metadata":["one"]}}`}, "https://a.com"); got != "" {
			t.Errorf("got %s, want nothing", got)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	reg := plugintest.Registry(t, cors.Def)
	for _, tt := range []struct{ conf, metadata, want string }{
		{`{"allow_credential":true}`, "", "can not set '*'"},
		{`{"allow_credential":true,"allow_origins":"**","allow_methods":"GET","allow_headers":"a","timing_allow_origins":"*"}`, "", "can not set '*'"},
		{`{"allow_origins":"not a url"}`, "", "/allow_origins"},
		{`{"timing_allow_origins":"a,b"}`, "", "/timing_allow_origins"},
		{`{"allow_origins":"**","allow_origins_by_regex":["("]}`, "", "allow_origins_by_regex[0]"},
		{`{"timing_allow_origins_by_regex":["a","("]}`, "", "timing_allow_origins_by_regex[1]"},
		{`{"allow_origins_by_metadata":[]}`, "", "/allow_origins_by_metadata"},
		{`{"allow_origins_by_metadata":["k"]}`, `{"allow_origins":{"k":"not a url"}}`, "plugin_metadata: /allow_origins/k"},
		{`{"allow_origins_by_metadata":["k"]}`, `{"origins":{}}`, "plugin_metadata: /: additional properties 'origins' not allowed"},
		{`{"allow_origin":"*"}`, "", "additional properties 'allow_origin' not allowed"},
	} {
		cfg := plugintest.Config{Route: `{"cors":` + tt.conf + `}`}
		if tt.metadata != "" {
			cfg.Metadata = map[string]string{"cors": tt.metadata}
		}
		if _, err := plugintest.Build(t, reg, cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.conf, err, tt.want)
		}
	}
}

// APISIX's documented examples (docs/en/latest/plugins/cors.md): the
// configs as the page writes them and the fields its answers show. The
// page's second and third examples show "Vary: Origin" on every answer;
// APISIX's code adds it only when allow_origins is not "*" (and it is the
// default "*" there), as sluice does.
func TestDocExamples(t *testing.T) {
	const (
		methods = "|Access-Control-Allow-Methods: GET,POST|Access-Control-Max-Age: 50|Access-Control-Expose-Headers: ex-headr1,ex-headr2|Access-Control-Allow-Headers: headr1,headr2"
		route1  = `{"cors": {"allow_origins": "http://sub.domain.com,http://sub2.domain.com", "allow_methods": "GET,POST",
			"allow_headers": "headr1,headr2", "expose_headers": "ex-headr1,ex-headr2", "max_age": 50, "allow_credential": true}}`
		route2 = `{"cors": {"allow_methods": "GET,POST", "allow_headers": "headr1,headr2", "expose_headers": "ex-headr1,ex-headr2",
			"max_age": 50, "allow_origins_by_regex": [".*\\.test.com$"]}}`
		metadata = `{"allow_origins": {"key_1": "https://domain.com", "key_2": "https://sub.domain.com,https://sub2.domain.com", "key_3": "*"}}`
		route3   = `{"cors": {"allow_methods": "GET,POST", "allow_headers": "headr1,headr2", "expose_headers": "ex-headr1,ex-headr2",
			"max_age": 50, "allow_origins_by_metadata": ["key_1"]}}`
	)
	md := map[string]string{"cors": metadata}
	for _, tt := range []struct {
		name   string
		cfg    plugintest.Config
		origin string
		want   string
	}{
		{"Enable CORS for a Route: allowed", plugintest.Config{Route: route1}, "http://sub2.domain.com",
			"Vary: Origin|Access-Control-Allow-Origin: http://sub2.domain.com" + methods + "|Access-Control-Allow-Credentials: true"},
		{"Enable CORS for a Route: not allowed", plugintest.Config{Route: route1}, "http://sub3.domain.com", "Vary: Origin"},
		{"Use RegEx to Match Origin: allowed", plugintest.Config{Route: route2}, "http://a.test.com", "Access-Control-Allow-Origin: http://a.test.com" + methods},
		{"Use RegEx to Match Origin: not allowed", plugintest.Config{Route: route2}, "http://a.test2.com", ""},
		{"Configure Origins in Plugin Metadata: allowed", plugintest.Config{Route: route3, Metadata: md}, "https://domain.com", "Access-Control-Allow-Origin: https://domain.com" + methods},
		{"Configure Origins in Plugin Metadata: not allowed", plugintest.Config{Route: route3, Metadata: md}, "http://a.test2.com", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := corsFields(t, tt.cfg, tt.origin); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	// Older versions of the page.
	reg := plugintest.Registry(t, cors.Def)
	for _, conf := range []string{
		`{}`,
		`{"allow_origins":"http://sub.domain.com","allow_origins_by_regex":[".*\\.test.com$"]}`,
		`{"allow_origins":"**","allow_methods":"**","allow_headers":"**","expose_headers":"**"}`,
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"cors":` + conf + `}`}); err != nil {
			t.Errorf("%s: %v", conf, err)
		}
	}
}

func TestE2E(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	routes := func(metaOrigin string) string {
		return fmt.Sprintf(`
routes:
  - {id: r, uri: "/*", upstream: {nodes: {%[1]q: 1}}, plugins: {cors: {allow_origins: "http://a.com", allow_methods: "GET,POST", allow_headers: "X-Token", timing_allow_origins: "http://a.com"}}}
  - {id: m, uri: "/meta", upstream: {nodes: {%[1]q: 1}}, plugins: {cors: {allow_origins_by_metadata: [k]}}}
plugin_metadata:
  - {id: cors, allow_origins: {k: %[2]q}}
`, up, metaOrigin)
	}
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{cors.Def}, Routes: routes("http://m.com")})
	cl := e2e.Client()
	ask := func(method, path, origin string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, n.URL+path, nil)
		req.Header.Set("Origin", origin)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	for _, method := range []string{"OPTIONS", "GET"} {
		resp, b := ask(method, "/x", "http://a.com")
		want := "ok"
		if method == "OPTIONS" {
			want = "" // answered at the gateway
		}
		if resp.StatusCode != 200 || b != want || resp.Header.Get("Access-Control-Allow-Origin") != "http://a.com" ||
			resp.Header.Get("Access-Control-Allow-Headers") != "X-Token" || resp.Header.Get("Timing-Allow-Origin") != "http://a.com" ||
			resp.Header.Get("Vary") != "Origin" {
			t.Errorf("%s: %d %q %v", method, resp.StatusCode, b, resp.Header)
		}
	}
	if resp, _ := ask("GET", "/x", "http://b.com"); resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Vary") != "Origin" {
		t.Errorf("another origin: %v", resp.Header)
	}
	// The metadata's origins, and a change of the metadata alone.
	if resp, _ := ask("GET", "/meta", "http://m.com"); resp.Header.Get("Access-Control-Allow-Origin") != "http://m.com" {
		t.Errorf("metadata origin: %v", resp.Header)
	}
	if err := n.Reload(routes("http://n.com")); err != nil {
		t.Fatal(err)
	}
	if resp, _ := ask("GET", "/meta", "http://m.com"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("origin dropped from the metadata: %v", resp.Header)
	}
	if resp, _ := ask("GET", "/meta", "http://n.com"); resp.Header.Get("Access-Control-Allow-Origin") != "http://n.com" {
		t.Errorf("origin added to the metadata: %v", resp.Header)
	}
}
