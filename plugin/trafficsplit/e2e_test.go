package trafficsplit_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/trafficsplit"
)

// Through the real proxy to real upstreams: a canary split by weight
// between an inline upstream and the route's own, a blue-green rule on a
// header to an upstream resource by id.
func TestE2E(t *testing.T) {
	named := func(name string) string {
		return e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
	}
	blue, green, canary := named("blue"), named("green"), named("canary")
	n := e2e.Start(t, e2e.Options{
		Workers: 1,
		Plugins: []plugin.Def{trafficsplit.Def},
		Routes: fmt.Sprintf(`
upstreams:
  - {id: green, nodes: {%q: 1}}
routes:
  - id: r1
    uri: /
    upstream: {nodes: {%q: 1}}
    plugins:
      traffic-split:
        rules:
          - match: [{vars: [[http_release, ==, new_release]]}]
            weighted_upstreams: [{upstream_id: green}]
          - weighted_upstreams:
              - {upstream: {type: roundrobin, nodes: {%q: 1}}, weight: 3}
              - {weight: 2}
`, green, blue, canary),
	})
	cl := e2e.Client()
	get := func(release string) string {
		rq, _ := http.NewRequest("GET", n.URL+"/", nil)
		if release != "" {
			rq.Header.Set("release", release)
		}
		res, err := cl.Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return string(b)
	}
	var got []string
	for range 10 {
		got = append(got, get(""))
	}
	// One loop: the smooth order of 3:2 over two cycles.
	if want := "canary blue canary blue canary canary blue canary blue canary"; strings.Join(got, " ") != want {
		t.Errorf("split: %s\nwant   %s", strings.Join(got, " "), want)
	}
	for range 3 {
		if b := get("new_release"); b != "green" {
			t.Errorf("release: new_release went to %s", b)
		}
	}
}
