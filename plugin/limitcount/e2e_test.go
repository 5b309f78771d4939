package limitcount_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/keyauth"
	"github.com/sluice-gateway/sluice/plugin/limitcount"
	"github.com/sluice-gateway/sluice/plugin/proxyrewrite"
)

// fetch GETs url and returns the status, the three quota headers and the
// body.
func fetch(t *testing.T, cl *http.Client, url string) string {
	t.Helper()
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d %s/%s %s", resp.StatusCode, resp.Header.Get("X-RateLimit-Limit"),
		resp.Header.Get("X-RateLimit-Remaining"), strings.TrimSpace(string(b)))
}

// Through the real proxy: quotas, their headers and rejections, a window
// that resets on the wall clock, a group shared by two routes, and
// counters that survive an unrelated config change.
func TestE2E(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.URL.Path)
	}))
	routes := func(extra string) string {
		return fmt.Sprintf(`
upstreams:
  - {id: up, nodes: {%q: 1}}
routes:
  - id: one
    uri: /one
    upstream_id: up
    plugins:
      limit-count: {count: 2, time_window: 1, rejected_code: 429, rejected_msg: "over quota"}
  - {id: g1, uri: /g1, upstream_id: up, plugins: {limit-count: {count: 1, time_window: 60, group: shared}}}
  - {id: g2, uri: /g2, upstream_id: up, plugins: {limit-count: {count: 1, time_window: 60, group: shared}}}
%s`, up, extra)
	}
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{limitcount.Def}, Workers: 2, Routes: routes("")})
	cl := e2e.Client()

	t.Run("window", func(t *testing.T) {
		// Three requests within one window: start just after a second
		// begins, and try again (in a later, fresh window) should a
		// loaded machine stretch them past its end.
		want := []string{"200 2/1 hello /one", "200 2/0 hello /one", `429 2/0 {"error_msg":"over quota"}`}
		var got []string
		for attempt := 0; ; attempt++ {
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 20*time.Millisecond)))
			t1 := time.Now()
			got = got[:0]
			for range want {
				got = append(got, fetch(t, cl, n.URL+"/one"))
			}
			if time.Now().Unix() == t1.Unix() || attempt == 4 {
				break
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("in one window:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		deadline := time.Now().Add(3 * time.Second)
		for {
			time.Sleep(100 * time.Millisecond)
			if got := fetch(t, cl, n.URL+"/one"); strings.HasPrefix(got, "200 ") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the window never reset")
			}
		}
	})
	t.Run("group", func(t *testing.T) {
		if got := fetch(t, cl, n.URL+"/g1"); got != "200 1/0 hello /g1" {
			t.Errorf("g1: %q", got)
		}
		if got := fetch(t, cl, n.URL+"/g2"); got != `503 1/0 {"error_msg":"503 Service Unavailable"}` {
			t.Errorf("g2 after g1: %q", got)
		}
	})
	t.Run("counters survive an unrelated change", func(t *testing.T) {
		if err := n.Reload(routes("  - {id: other, uri: /other, upstream_id: up}\n")); err != nil {
			t.Fatal(err)
		}
		if got := fetch(t, cl, n.URL+"/other"); got != "200 / hello /other" {
			t.Fatalf("new route: %q", got)
		}
		if got := fetch(t, cl, n.URL+"/g1"); !strings.HasPrefix(got, "503 ") {
			t.Errorf("g1 after reload: %q, want still over quota", got)
		}
	})
	t.Run("a refused config leaves the old one serving", func(t *testing.T) {
		bad := strings.Replace(routes(""), "count: 1, time_window: 60, group: shared}}}\n", "count: 1, time_window: 60, group: shared, policy: redis}}}\n", 1)
		err := n.Reload(bad)
		if err == nil || !strings.Contains(err.Error(), `policy "redis" is not supported yet`) {
			t.Fatalf("reload: %v", err)
		}
		if got := fetch(t, cl, n.URL+"/other"); got != "200 / hello /other" {
			t.Errorf("old config: %q", got)
		}
	})
}

// APISIX's page's examples through the proxy, as the page sends them
// (consumers with key-auth keys in place of the credentials resource):
// the quota per remote address and consumer name, and a service's quota
// shared by two routes that proxy-rewrite to /get.
func TestDocExamplesThroughProxy(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) }))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{limitcount.Def, keyauth.Def, proxyrewrite.Def}, Routes: `
consumers:
  - {"username": "john", "plugins": {"key-auth": {"key": "john-key"}}}
  - {"username": "jane", "plugins": {"key-auth": {"key": "jane-key"}}}
services:
  - {"id": "limit-count-service", "plugins": {"limit-count": {"count": 1, "time_window": 30, "rejected_code": 429, "policy": "local", "group": "srv1"}},
     "upstream": {"type": "roundrobin", "nodes": {"` + up + `": 1}}}
routes:
  - {"id": "limit-count-route", "uri": "/get", "plugins": {"key-auth": {}, "limit-count": {"count": 1, "time_window": 30, "rejected_code": 429,
      "key_type": "var_combination", "key": "$remote_addr $consumer_name"}}, "upstream": {"type": "roundrobin", "nodes": {"` + up + `": 1}}}
  - {"id": "limit-count-route-1", "service_id": "limit-count-service", "uri": "/get1", "plugins": {"proxy-rewrite": {"uri": "/get"}}}
  - {"id": "limit-count-route-2", "service_id": "limit-count-service", "uri": "/get2", "plugins": {"proxy-rewrite": {"uri": "/get"}}}
`})
	do := func(path, key string) string {
		rq, _ := http.NewRequest("GET", n.URL+path, nil)
		if key != "" {
			rq.Header.Set("apikey", key)
		}
		res, err := e2e.Client().Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return fmt.Sprintf("%d %s", res.StatusCode, strings.TrimSpace(string(b)))
	}
	for _, tt := range []struct{ path, key, want string }{
		{"/get", "jane-key", "200 /get"},
		{"/get", "john-key", "200 /get"},
		{"/get", "jane-key", `429 {"error_msg":"429 Too Many Requests"}`},
		{"/get1", "", "200 /get"},
		{"/get2", "", `429 {"error_msg":"429 Too Many Requests"}`},
	} {
		if got := do(tt.path, tt.key); got != tt.want {
			t.Errorf("%s as %q: %s, want %s", tt.path, tt.key, got, tt.want)
		}
	}
}
