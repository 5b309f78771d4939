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

func TestHeaders(t *testing.T) {
	reg := plugintest.Registry(t, cors.Def)
	tests := []struct{ conf, origin, want string }{
		{`{}`, "http://a.com", "Access-Control-Allow-Origin: *|Access-Control-Allow-Methods: GET,POST,PUT,DELETE,PATCH,HEAD,OPTIONS,CONNECT,TRACE|Access-Control-Max-Age: 5|Access-Control-Allow-Headers: X-A"},
		{`{"allow_origins":"http://a.com,http://b.com","allow_methods":"GET,POST","allow_headers":"X-B","expose_headers":"X-C","max_age":60,"allow_credential":true}`, "http://b.com",
			"Vary: Origin|Access-Control-Allow-Origin: http://b.com|Access-Control-Allow-Methods: GET,POST|Access-Control-Max-Age: 60|Access-Control-Expose-Headers: X-C|Access-Control-Allow-Headers: X-B|Access-Control-Allow-Credentials: true"},
		{`{"allow_origins":"http://a.com"}`, "http://evil.com", ""},
		{`{"allow_origins":"http://a.com"}`, "", ""},
		{`{"allow_origins":"**","allow_methods":"GET"}`, "http://any.org", "Vary: Origin|Access-Control-Allow-Origin: http://any.org|Access-Control-Allow-Methods: GET|Access-Control-Max-Age: 5|Access-Control-Allow-Headers: X-A"},
		{`{"allow_origins":"http://x.com","allow_origins_by_regex":[".*\\.test.com$"]}`, "http://a.test.com", "Vary: Origin|Access-Control-Allow-Origin: http://a.test.com|Access-Control-Allow-Methods: GET,POST,PUT,DELETE,PATCH,HEAD,OPTIONS,CONNECT,TRACE|Access-Control-Max-Age: 5|Access-Control-Allow-Headers: X-A"},
	}
	for _, tt := range tests {
		t.Run(tt.conf+" "+tt.origin, func(t *testing.T) {
			ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"cors":` + tt.conf + `}`})
			h := "Access-Control-Request-Headers: X-A\r\n"
			if tt.origin != "" {
				h += "Origin: " + tt.origin + "\r\n"
			}
			r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n"+h+"\r\n", "127.0.0.1:1")
			r.Run(ch)
			r.Respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			got := strings.Join(strings.Split(strings.TrimSuffix(r.RespHeaders(), "\r\n"), "\r\n"), "|")
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// APISIX's documented examples, and its refusal of '*' with credentials.
func TestDocExamples(t *testing.T) {
	reg := plugintest.Registry(t, cors.Def)
	for _, conf := range []string{
		`{}`,
		`{"allow_origins":"http://sub.domain.com,http://sub2.domain.com","allow_methods":"GET,POST","allow_headers":"headr1,headr2","expose_headers":"ex-headr1,ex-headr2","max_age":50,"allow_credential":true}`,
		`{"allow_origins":"http://sub.domain.com","allow_origins_by_regex":[".*\\.test.com$"]}`,
		`{"allow_origins":"**","allow_methods":"**","allow_headers":"**","expose_headers":"**"}`,
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"cors":` + conf + `}`}); err != nil {
			t.Errorf("%s: %v", conf, err)
		}
	}
	for conf, want := range map[string]string{
		`{"allow_credential":true}`:                             "can not set '*'",
		`{"allow_origins":"not a url"}`:                         "/allow_origins",
		`{"allow_origins_by_metadata":["a"]}`:                   "additional properties 'allow_origins_by_metadata' not allowed",
		`{"allow_origins":"**","allow_origins_by_regex":["("]}`: "allow_origins_by_regex[0]",
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"cors":` + conf + `}`}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", conf, err, want)
		}
	}
}

func TestE2E(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{cors.Def}, Routes: fmt.Sprintf(`
routes: [{id: r, uri: "/*", upstream: {nodes: {%q: 1}}, plugins: {cors: {allow_origins: "http://a.com", allow_methods: "GET,POST", allow_headers: "X-Token"}}}]
`, up)})
	cl := e2e.Client()
	for _, method := range []string{"OPTIONS", "GET"} {
		req, _ := http.NewRequest(method, n.URL+"/x", nil)
		req.Header.Set("Origin", "http://a.com")
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := "ok"
		if method == "OPTIONS" {
			want = "" // answered at the gateway
		}
		if resp.StatusCode != 200 || string(b) != want || resp.Header.Get("Access-Control-Allow-Origin") != "http://a.com" ||
			resp.Header.Get("Access-Control-Allow-Headers") != "X-Token" {
			t.Errorf("%s: %d %q %v", method, resp.StatusCode, b, resp.Header)
		}
	}
}
