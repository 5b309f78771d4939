package consumerrestriction_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/consumerrestriction"
	"github.com/sluice-gateway/sluice/plugin/keyauth"
	"github.com/sluice-gateway/sluice/plugin/limitcount"
)

// Through the real proxy: APISIX's three documented setups (a whitelist on
// a route, methods per consumer, a restriction by service id on the
// consumer itself, with key-auth on the services) and one by consumer
// group (which has a plugin of its own, as a group must).
func TestE2E(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s user=%s", r.Method, r.URL.Path, r.Header.Get("X-Consumer-Username"))
	}))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{keyauth.Def, consumerrestriction.Def, limitcount.Def}, Workers: 2, Routes: fmt.Sprintf(`
upstreams:
  - {id: up, nodes: {%q: 1}}
services:
  - {id: srv-1, upstream_id: up, plugins: {key-auth: {}}}
  - {id: srv-2, upstream_id: up, plugins: {key-auth: {}}}
consumer_groups:
  - {id: gold, plugins: {limit-count: {count: 1000, time_window: 60}}}
consumers:
  - {username: JohnDoe, plugins: {key-auth: {key: john-key}}}
  - {username: JohnSrv, plugins: {key-auth: {key: srv-key}, consumer-restriction: {type: service_id, whitelist: [srv-1]}}}
  - {username: JaneDoe, group_id: gold, plugins: {key-auth: {key: jane-key}}}
routes:
  - id: whitelist
    uri: /get
    upstream_id: up
    plugins: {key-auth: {}, consumer-restriction: {whitelist: [JaneDoe]}}
  - id: methods
    uri: /anything
    upstream_id: up
    plugins:
      key-auth: {}
      consumer-restriction:
        allowed_by_methods: [{user: JohnDoe, methods: [GET]}, {user: JaneDoe, methods: [POST]}]
  - {id: srv-1-route, uri: /srv-1, service_id: srv-1}
  - {id: srv-2-route, uri: /srv-2, service_id: srv-2}
  - id: gold
    uri: /gold
    upstream_id: up
    plugins: {key-auth: {}, consumer-restriction: {type: consumer_group_id, whitelist: [gold], rejected_code: 402, rejected_msg: "gold only"}}
`, up)})
	cl := e2e.Client()
	const forbidden = `403 {"message":"The consumer_name is forbidden."}`
	for _, tt := range []struct {
		method, path, key, want string
	}{
		{"GET", "/get", "john-key", forbidden},
		{"GET", "/get", "jane-key", "200 GET /get user=JaneDoe"},
		{"GET", "/get", "", `401 {"message":"Missing API key in request"}`},
		{"POST", "/anything", "john-key", forbidden},
		{"GET", "/anything", "john-key", "200 GET /anything user=JohnDoe"},
		{"POST", "/anything", "jane-key", "200 POST /anything user=JaneDoe"},
		{"GET", "/anything", "jane-key", forbidden},
		{"GET", "/srv-1", "srv-key", "200 GET /srv-1 user=JohnSrv"},
		{"GET", "/srv-2", "srv-key", `403 {"message":"The service_id is forbidden."}`},
		{"GET", "/srv-2", "jane-key", "200 GET /srv-2 user=JaneDoe"},
		// The consumer's own restriction wins over a route's (Consumer >
		// Route), and a route without a service has no service_id.
		{"GET", "/get", "srv-key", `401 {"message":"The request is rejected, please check the service_id for this request"}`},
		{"GET", "/gold", "jane-key", "200 GET /gold user=JaneDoe"},
		{"GET", "/gold", "john-key", `401 {"message":"The request is rejected, please check the consumer_group_id for this request"}`},
	} {
		req, _ := http.NewRequest(tt.method, n.URL+tt.path, nil)
		if tt.key != "" {
			req.Header.Set("apikey", tt.key)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b))); got != tt.want {
			t.Errorf("%s %s as %s: %q, want %q", tt.method, tt.path, tt.key, got, tt.want)
		}
	}
}
