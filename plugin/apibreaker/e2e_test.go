package apibreaker_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/apibreaker"
)

// Through the real proxy: an upstream answering 500 trips the breaker,
// which then answers for it without asking it; once the hold is over and
// the upstream is well, requests reach it again.
func TestE2E(t *testing.T) {
	var sick atomic.Bool
	var asked atomic.Int64
	sick.Store(true)
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if sick.Load() {
			w.WriteHeader(500)
		}
		io.WriteString(w, "upstream")
	}))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{apibreaker.Def}, Routes: fmt.Sprintf(`
routes:
  - id: r
    uri: /hello
    upstream: {nodes: {%q: 1}}
    plugins:
      api-breaker:
        break_response_code: 502
        break_response_body: "breaker open"
        break_response_headers: [{key: X-Client, value: "$remote_addr"}]
        unhealthy: {http_statuses: [500], failures: 2}
        healthy: {successes: 1}
`, up)})
	cl := e2e.Client()
	get := func() (int, string, string) {
		resp, err := cl.Get(n.URL + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b), resp.Header.Get("X-Client")
	}
	// The log phase trails the answer: wait for it to have counted.
	for i := 0; i < 2; i++ {
		if st, body, _ := get(); st != 500 || body != "upstream" {
			t.Fatalf("failure %d: %d %q", i, st, body)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, body, client := get()
		if st == 502 {
			if body != "breaker open" || client != "127.0.0.1" {
				t.Errorf("broken: %q, X-Client %q", body, client)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never tripped: %d %q", st, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := asked.Load()
	for range 5 {
		if st, _, _ := get(); st != 502 {
			t.Errorf("open breaker let a request through: %d", st)
		}
	}
	if asked.Load() != before {
		t.Errorf("the upstream was asked %d times while the breaker was open", asked.Load()-before)
	}
	sick.Store(false)
	deadline = time.Now().Add(6 * time.Second)
	for {
		time.Sleep(100 * time.Millisecond)
		if st, body, _ := get(); st == 200 && body == "upstream" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the breaker never let requests through again")
		}
	}
}

// The example of APISIX's api-breaker page (docs/en/latest/plugins/
// api-breaker.md, 3.18), sent as the page sends it (the route body, the
// upstream pointed at a local server): three 500/503 answers open the
// breaker and `curl -X POST /hello` gets the 502; the page's "Delete
// Plugin" body then serves the route without it. The page shows nginx's
// HTML error page for the 502; sluice answers {"error_msg": ...}, as for
// every plugin stop without a body.
func TestDocExample(t *testing.T) {
	statuses := make(chan int, 8)
	for _, s := range []int{500, 503, 500} {
		statuses <- s
	}
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s := <-statuses:
			w.WriteHeader(s)
		default:
		}
		io.WriteString(w, "upstream")
	}))
	body := `{
		"plugins": {"api-breaker": {"break_response_code": 502,
			"unhealthy": {"http_statuses": [500, 503], "failures": 3},
			"healthy": {"http_statuses": [200], "successes": 1}}},
		"upstream": {"type": "roundrobin", "nodes": {"` + up + `": 1}},
		"uri": "/hello"}`
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{apibreaker.Def}, Routes: "routes: [{id: 1, " + body[1:] + "]\n"})
	post := func() (int, string) {
		resp, err := e2e.Client().Post(n.URL+"/hello", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	for _, want := range []int{500, 503, 500} {
		if st, _ := post(); st != want {
			t.Fatalf("upstream answer %d, want %d", st, want)
		}
	}
	// The log phase trails the answer: wait for it to have counted.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, b := post()
		if st == 502 {
			if !strings.Contains(b, `"error_msg"`) || !strings.Contains(b, "Bad Gateway") {
				t.Errorf("break answer %q", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never tripped: %d %q", st, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := n.Reload(`routes: [{id: 1, "uri": "/hello", "upstream": {"type": "roundrobin", "nodes": {"` + up + `": 1}}}]` + "\n"); err != nil {
		t.Fatal(err)
	}
	if st, b := post(); st != 200 || b != "upstream" {
		t.Errorf("without the plugin: %d %q", st, b)
	}
}
