package requestid_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/requestid"
)

var formats = map[string]*regexp.Regexp{
	`{}`:                       regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`),
	`{"algorithm":"nanoid"}`:   regexp.MustCompile(`^[A-Za-z0-9_-]{21}$`),
	`{"algorithm":"ksuid"}`:    regexp.MustCompile(`^[0-9A-Za-z]{27}$`),
	`{"algorithm":"uuidv7"}`:   regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`),
	`{"algorithm":"range_id"}`: regexp.MustCompile(`^[a-zA-Z0-9]{16}$`),
	`{"algorithm":"range_id","range_id":{"char_set":"abcdef","length":8}}`: regexp.MustCompile(`^[a-f]{8}$`),
}

func TestIDs(t *testing.T) {
	reg := plugintest.Registry(t, requestid.Def)
	for conf, re := range formats {
		ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"request-id":` + conf + `}`})
		seen := map[string]bool{}
		for range 50 {
			r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "127.0.0.1:1")
			r.Run(ch)
			up := r.Upstream()
			i := strings.Index(up, "X-Request-Id: ")
			if i < 0 {
				t.Fatalf("%s: no ID upstream: %q", conf, up)
			}
			v := up[i+14 : i+strings.Index(up[i:], "\r\n")]
			if !re.MatchString(v) || seen[v] {
				t.Fatalf("%s: ID %q (format %v, seen before %v)", conf, v, re, seen[v])
			}
			seen[v] = true
			if resp := r.Respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); !strings.Contains(resp, "X-Request-Id: "+v+"\r\n") {
				t.Fatalf("%s: answer %q lacks the ID", conf, resp)
			}
		}
	}
}

func TestClientIDKept(t *testing.T) {
	reg := plugintest.Registry(t, requestid.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"request-id":{"header_name":"X-Trace","include_in_response":false}}`})
	r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\nX-Trace: abc\r\n\r\n", "127.0.0.1:1")
	r.Run(ch)
	if up := r.Upstream(); strings.Count(up, "X-Trace") != 1 || !strings.Contains(up, "X-Trace: abc\r\n") {
		t.Errorf("upstream %q", up)
	}
	if resp := r.Respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); strings.Contains(resp, "X-Trace") {
		t.Errorf("include_in_response false, answer %q", resp)
	}
}

// An upstream answer with its own non-empty ID keeps it, as in APISIX.
func TestUpstreamIDKept(t *testing.T) {
	reg := plugintest.Registry(t, requestid.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"request-id":{}}`})
	for _, tt := range []struct{ upstream, want string }{
		{"X-Request-Id: from-upstream\r\n", "X-Request-Id: from-upstream\r\n"},
		{"X-Request-Id:\r\n", "X-Request-Id: "}, // empty: replaced
	} {
		r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "127.0.0.1:1")
		r.Run(ch)
		resp := r.Respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + tt.upstream + "\r\n")
		if strings.Count(resp, "X-Request-Id") != 1 || !strings.Contains(resp, tt.want) || strings.Contains(resp, "X-Request-Id: \r\n") {
			t.Errorf("upstream %q: answer %q", tt.upstream, resp)
		}
	}
}

// APISIX's documented examples (docs/en/latest/plugins/request-id.md):
// each config as the page writes it, and the headers its answers show.
// "Understand Request ID in Gateway Logs" shows nginx's access log with
// $apisix_request_id; sluice writes no such log: its configs (a route
// without the plugin, then with {}) are checked for the ID they put on the
// request.
func TestDocExamples(t *testing.T) {
	reg := plugintest.Registry(t, requestid.Def)
	uuidRE := formats[`{}`]
	type want struct {
		upstream, answer map[string]*regexp.Regexp // header -> value; nil regexp: absent
	}
	run := func(name string, cfg plugintest.Config, reqFields string, w want) {
		t.Helper()
		ch := plugintest.MustBuild(t, reg, cfg)
		r := plugintest.NewRequest("GET /anything HTTP/1.1\r\nHost: 127.0.0.1:9080\r\n"+reqFields+"\r\n", "127.0.0.1:1")
		r.Run(ch)
		up := parseHead(r.Upstream())
		ans := parseHead(r.Respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
		for _, side := range []struct {
			what string
			got  map[string]string
			want map[string]*regexp.Regexp
		}{{"upstream", up, w.upstream}, {"answer", ans, w.answer}} {
			for h, re := range side.want {
				v, ok := side.got[h]
				if re == nil && ok || re != nil && (!ok || !re.MatchString(v)) {
					t.Errorf("%s: %s %s: %q (present %v), want %v", name, side.what, h, v, ok, re)
				}
			}
		}
	}
	rid := "X-Request-Id"
	run("Gateway Logs: no plugin", plugintest.Config{}, "", want{upstream: map[string]*regexp.Regexp{rid: nil}})
	run("Gateway Logs: {}", plugintest.Config{Route: `{"request-id": {}}`}, "", want{upstream: map[string]*regexp.Regexp{rid: uuidRE}})
	def := plugintest.Config{Route: `{"request-id": {"header_name": "X-Request-Id", "include_in_response": true, "algorithm": "uuid"}}`}
	run("Default Response Header", def, "", want{answer: map[string]*regexp.Regexp{rid: uuidRE}})
	run("Default Response Header, empty", def, "X-Request-Id:\r\n", want{upstream: map[string]*regexp.Regexp{rid: uuidRE}, answer: map[string]*regexp.Regexp{rid: uuidRE}})
	custom := regexp.MustCompile(`^some-custom-request-id$`)
	run("Default Response Header, the client's", def, "X-Request-Id: some-custom-request-id\r\n",
		want{upstream: map[string]*regexp.Regexp{rid: custom}, answer: map[string]*regexp.Regexp{rid: custom}})
	run("Custom Response Header", plugintest.Config{Route: `{"request-id": {"header_name": "X-Req-Identifier", "include_in_response": true}}`}, "",
		want{answer: map[string]*regexp.Regexp{"X-Req-Identifier": uuidRE, rid: nil}})
	run("Hide Request ID in Response Header", plugintest.Config{Route: `{"request-id": {"header_name": "X-Req-Identifier", "include_in_response": false}}`}, "",
		want{upstream: map[string]*regexp.Regexp{"X-Req-Identifier": uuidRE}, answer: map[string]*regexp.Regexp{"X-Req-Identifier": nil}})
	run("nanoid", plugintest.Config{Route: `{"request-id": {"algorithm": "nanoid"}}`}, "", want{answer: map[string]*regexp.Regexp{rid: formats[`{"algorithm":"nanoid"}`]}})
	run("ksuid", plugintest.Config{Route: `{"request-id": {"algorithm": "ksuid"}}`}, "", want{answer: map[string]*regexp.Regexp{rid: formats[`{"algorithm":"ksuid"}`]}})
	run("Globally and on a Route", plugintest.Config{
		Global: []string{`{"request-id": {"header_name": "Global-Request-ID"}}`},
		Route:  `{"request-id": {"header_name": "Route-Request-ID"}}`,
	}, "", want{answer: map[string]*regexp.Regexp{"Global-Request-ID": uuidRE, "Route-Request-ID": uuidRE}})
	// The attribute table's range_id, and older versions of the page.
	for _, conf := range []string{
		`{"algorithm":"range_id","range_id":{"char_set":"abcdef123456","length":6}}`,
		`{"include_in_response":true}`,
		`{"header_name":"X-Req-Identifier","algorithm":"nanoid"}`,
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"request-id":` + conf + `}`}); err != nil {
			t.Errorf("%s: %v", conf, err)
		}
	}
	for conf, want := range map[string]string{
		`{"algorithm":"snowflake"}`:          "/algorithm",
		`{"range_id":{"length":5}}`:          "/range_id/length",
		`{"range_id":{"char_set":"abc"}}`:    "/range_id/char_set",
		`{"header_name":"X","include":true}`: "additional properties 'include' not allowed",
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"request-id":` + conf + `}`}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", conf, err, want)
		}
	}
}

// parseHead maps a head's field names to their (last) values.
func parseHead(head string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(head, "\r\n")[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func TestE2E(t *testing.T) {
	got := make(chan string, 4)
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Request-Id")
		io.WriteString(w, "ok")
	}))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{requestid.Def}, Routes: fmt.Sprintf(`
routes:
  - {id: r, uri: /, upstream: {nodes: {%[1]q: 1}}, plugins: {request-id: {}}}
  - {id: request-id-route, uri: /anything, upstream: {nodes: {%[1]q: 1}}, plugins: {request-id: {header_name: Route-Request-ID}}}
global_rules:
  - {id: rule-for-request-id, plugins: {request-id: {header_name: Global-Request-ID}}}
`, up)})
	resp, err := e2e.Client().Get(n.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if id, upID := resp.Header.Get("X-Request-Id"), <-got; id == "" || upID != id {
		t.Errorf("client saw %q, upstream %q", id, upID)
	}
	// The page's "Attach Request ID Globally and on a Route": both IDs,
	// different, on the answer.
	resp, err = e2e.Client().Get(n.URL + "/anything")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	<-got
	g, r := resp.Header.Get("Global-Request-ID"), resp.Header.Get("Route-Request-ID")
	if re := formats[`{}`]; !re.MatchString(g) || !re.MatchString(r) || g == r {
		t.Errorf("global %q, route %q", g, r)
	}
}
