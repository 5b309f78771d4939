package httplogger_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/httplogger"
	"github.com/sluice-gateway/sluice/plugin/keyauth"
)

// startProxy runs a node with key-auth and http-logger (config logger) on
// a route; extra is more top-level YAML (plugin_metadata).
func startProxy(t *testing.T, logger, extra string) (*e2e.Node, string) {
	t.Helper()
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Up", "yes")
		io.WriteString(w, "hello")
	}))
	n := e2e.Start(t, e2e.Options{
		Workers: 2,
		Plugins: []plugin.Def{keyauth.Def, httplogger.Def},
		Routes: extra + fmt.Sprintf(`
routes:
  - id: r1
    uri: /hello
    plugins:
      key-auth: {}
      http-logger: %s
    upstream: {nodes: {%q: 1}}
consumers:
  - username: jack
    plugins:
      key-auth: {key: auth-one}
`, logger, up),
	})
	return n, up
}

func send(t *testing.T, n *e2e.Node, method, key, body string) int {
	t.Helper()
	rq, _ := http.NewRequest(method, n.URL+"/hello?q=1", strings.NewReader(body))
	if key != "" {
		rq.Header.Set("apikey", key)
	}
	res, err := e2e.Client().Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// Through the real proxy: each request, authenticated or refused, is
// POSTed to a real receiver with what APISIX's full log holds.
func TestE2EDelivers(t *testing.T) {
	rc := newReceiver(t)
	n, up := startProxy(t, fmt.Sprintf(`{uri: %q, batch_max_size: 3, inactive_timeout: 1}`, rc.URL), "")
	if st := send(t, n, "GET", "auth-one", ""); st != 200 {
		t.Fatalf("GET: %d", st)
	}
	// A body larger than the proxy's read buffer, streamed to the upstream:
	// the head is logged as received all the same.
	if st := send(t, n, "POST", "auth-one", strings.Repeat("x", 200<<10)); st != 200 {
		t.Fatalf("POST: %d", st)
	}
	if st := send(t, n, "GET", "nope", ""); st != 401 {
		t.Fatalf("bad key: %d", st)
	}
	ps := rc.wait(t, 3, array)
	var got []string
	for _, p := range ps {
		for _, e := range array(p.body) {
			var m struct {
				Request struct {
					Method, URI string
					Headers     map[string]any
				}
				Response struct {
					Status  int
					Headers map[string]any
				}
				Upstream string
				RouteID  string `json:"route_id"`
				Consumer *struct{ Username string }
			}
			if err := json.Unmarshal([]byte(e), &m); err != nil {
				t.Fatalf("%s: %v", e, err)
			}
			who := "-"
			if m.Consumer != nil {
				who = m.Consumer.Username
			}
			got = append(got, fmt.Sprintf("%s %s %d %s %s up=%v xup=%v", m.Request.Method, m.Request.URI, m.Response.Status,
				m.RouteID, who, m.Upstream == up, m.Response.Headers["x-up"]))
			if m.Request.Method == "POST" && m.Request.Headers["content-length"] != fmt.Sprint(200<<10) {
				t.Errorf("POST headers %v", m.Request.Headers)
			}
		}
	}
	want := []string{
		"GET /hello?q=1 200 r1 jack up=true xup=yes",
		"POST /hello?q=1 200 r1 jack up=true xup=yes",
		"GET /hello?q=1 401 r1 - up=false xup=<nil>",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A receiver that never answers: requests through the proxy go on being
// answered; the entries beyond the pending bound are dropped and counted.
func TestE2EStalledReceiver(t *testing.T) {
	rc := newReceiver(t)
	rc.block = make(chan struct{})
	dropped := httplogger.Stats.Dropped.Load()
	n, _ := startProxy(t, fmt.Sprintf(`{uri: %q, batch_max_size: 2, timeout: 60}`, rc.URL),
		"plugin_metadata:\n  - {id: http-logger, max_pending_entries: 4}\n")
	for i := range 100 {
		if st := send(t, n, "GET", "auth-one", ""); st != 200 {
			t.Fatalf("request %d: %d", i, st)
		}
	}
	// Accepted at most: the stuck batch (2), the queue (4), one being
	// formatted.
	if d := httplogger.Stats.Dropped.Load() - dropped; d < 100-4-2-1 {
		t.Errorf("dropped %d of 100 with 4 pending at most", d)
	}
}
