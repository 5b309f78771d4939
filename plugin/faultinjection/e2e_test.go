package faultinjection_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/faultinjection"
)

// Through the real proxy on one event loop: an abort with its body and
// headers; a delay that holds its request, not the loop; a delay then an
// abort.
func TestE2E(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "upstream")
	}))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{faultinjection.Def}, Workers: 1, Routes: fmt.Sprintf(`
upstreams:
  - {id: up, nodes: {%q: 1}}
routes:
  - id: abort
    uri: /abort
    upstream_id: up
    plugins:
      fault-injection:
        abort: {http_status: 403, body: "Fault Injection! $remote_addr", headers: {X-Fault: "yes"}, vars: [[["arg_name", "==", "jack"]]]}
  - {id: delay, uri: /delay, upstream_id: up, plugins: {fault-injection: {delay: {duration: 1}}}}
  - {id: both, uri: /both, upstream_id: up, plugins: {fault-injection: {delay: {duration: 0.5}, abort: {http_status: 429}}}}
  - {id: plain, uri: /plain, upstream_id: up}
`, up)})
	type answer struct {
		status     int
		body, hdr  string
		start, end time.Time
	}
	get := func(path string) answer {
		a := answer{start: time.Now()}
		resp, err := e2e.Client().Get(n.URL + path)
		if err != nil {
			t.Error(err)
			return a
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		a.status, a.body, a.hdr, a.end = resp.StatusCode, string(b), resp.Header.Get("X-Fault"), time.Now()
		return a
	}
	if a := get("/abort?name=jack"); a.status != 403 || a.body != "Fault Injection! 127.0.0.1" || a.hdr != "yes" {
		t.Errorf("abort: %d %q X-Fault=%q", a.status, a.body, a.hdr)
	}
	if a := get("/abort?name=allen"); a.status != 200 || a.body != "upstream" {
		t.Errorf("vars not matched: %d %q", a.status, a.body)
	}
	delayed := make(chan answer, 1)
	go func() { delayed <- get("/delay") }()
	time.Sleep(100 * time.Millisecond)
	if a := get("/plain"); a.status != 200 {
		t.Errorf("another route during the delay: %d", a.status)
	}
	select {
	case a := <-delayed:
		t.Fatalf("the delayed request (%d) finished before the loop served another", a.status)
	default:
	}
	a := <-delayed
	if a.status != 200 || a.body != "upstream" {
		t.Errorf("delayed: %d %q", a.status, a.body)
	}
	if d := a.end.Sub(a.start); d < time.Second {
		t.Errorf("delayed request answered after %v, want at least 1s", d)
	}
	a = get("/both")
	if a.status != 429 {
		t.Errorf("delay then abort: %d %q", a.status, a.body)
	}
	if d := a.end.Sub(a.start); d < 500*time.Millisecond {
		t.Errorf("delay then abort answered after %v, want at least 500ms", d)
	}
}

// The examples of APISIX's fault-injection page (docs/en/latest/plugins/
// fault-injection.md, 3.18), sent as the page sends them (route bodies with
// the upstream pointed at a local server), and the answers the page shows.
func TestDocExamples(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream") }))
	route := func(plugins string) string {
		return `{"id": "fault-injection-route", "uri": "/anything", "plugins": {"fault-injection": ` + plugins + `},
			"upstream": {"type": "roundrobin", "nodes": {"` + up + `": 1}}}`
	}
	examples := []struct {
		name, conf string
		query      string
		status     int
		body, hdr  string
		wait       time.Duration
	}{
		{"Inject Faults", `{"abort": {"http_status": 404, "body": "APISIX Fault Injection"}}`,
			"", 404, "APISIX Fault Injection", "", 0},
		{"Inject Latencies", `{"delay": {"duration": 3}}`,
			"", 200, "upstream", "", 3 * time.Second},
		{"Inject Faults Conditionally (name=john)", `{"abort": {"http_status": 404, "body": "APISIX Fault Injection",
			"headers": {"X-APISIX-Remote-Addr": "$remote_addr"}, "vars": [[["arg_name","==","john"]]]}}`,
			"?name=john", 404, "APISIX Fault Injection", "127.0.0.1", 0},
		{"Inject Faults Conditionally (name=jane)", `{"abort": {"http_status": 404, "body": "APISIX Fault Injection",
			"headers": {"X-APISIX-Remote-Addr": "$remote_addr"}, "vars": [[["arg_name","==","john"]]]}}`,
			"?name=jane", 200, "upstream", "", 0},
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{faultinjection.Def}, Routes: "routes: [" + route(ex.conf) + "]\n"})
			start := time.Now()
			resp, err := e2e.Client().Get(n.URL + "/anything" + ex.query)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != ex.status || string(b) != ex.body || resp.Header.Get("X-APISIX-Remote-Addr") != ex.hdr {
				t.Errorf("%d %q X-APISIX-Remote-Addr=%q, want %d %q %q", resp.StatusCode, b, resp.Header.Get("X-APISIX-Remote-Addr"), ex.status, ex.body, ex.hdr)
			}
			if d := time.Since(start); d < ex.wait {
				t.Errorf("answered after %v, want at least %v", d, ex.wait)
			}
		})
	}
}
