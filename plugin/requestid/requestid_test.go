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

// APISIX's documented examples.
func TestDocExamples(t *testing.T) {
	reg := plugintest.Registry(t, requestid.Def)
	for _, conf := range []string{
		`{"include_in_response":true}`,
		`{"header_name":"X-Request-Id","include_in_response":true,"algorithm":"uuid"}`,
		`{"header_name":"X-Req-Identifier","algorithm":"nanoid"}`,
		`{"algorithm":"range_id","range_id":{"char_set":"abcdef123456","length":6}}`,
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"request-id":` + conf + `}`}); err != nil {
			t.Errorf("%s: %v", conf, err)
		}
	}
	if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"request-id":{"algorithm":"snowflake"}}`}); err == nil {
		t.Error("snowflake accepted")
	}
}

func TestE2E(t *testing.T) {
	got := make(chan string, 4)
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Request-Id")
		io.WriteString(w, "ok")
	}))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{requestid.Def}, Routes: fmt.Sprintf(`
routes: [{id: r, uri: /, upstream: {nodes: {%q: 1}}, plugins: {request-id: {}}}]
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
}
