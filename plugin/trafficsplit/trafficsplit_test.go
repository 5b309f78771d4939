package trafficsplit_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/trafficsplit"
)

// upstreams are the snapshot's upstreams the tests' configs name by id.
func upstreams(t testing.TB) map[string]*core.UpstreamSet {
	t.Helper()
	m := map[string]*core.UpstreamSet{}
	for id, node := range map[string]string{"1": "10.0.0.1:80", "2": "10.0.0.2:80"} {
		v, err := core.DecodeItem(core.KindUpstreams, "upstreams/"+id, []byte(fmt.Sprintf(`{"id":%q,"nodes":{%q:1}}`, id, node)))
		if err != nil {
			t.Fatal(err)
		}
		us, err := core.CompileUpstream(nil, v.(*core.Upstream), "upstreams/"+id, 2)
		if err != nil {
			t.Fatal(err)
		}
		m[id] = us
	}
	return m
}

// build compiles a route's plugins as the server does, with the snapshot's
// upstreams and two loops.
func build(t testing.TB, route string) (*plugin.Chain, error) {
	t.Helper()
	reg := plugintest.Registry(t, trafficsplit.Def)
	ups := upstreams(t)
	b := reg.NewBuild(nil)
	b.Loops = 2
	b.Upstream = func(id string) *core.UpstreamSet { return ups[id] }
	if err := b.SetGlobal(nil); err != nil {
		return nil, err
	}
	return b.Chain(plugin.Layer{Origin: plugin.OriginRoute, Owner: "routes/1", Plugins: plugintest.JSON(t, route)})
}

func mustBuild(t testing.TB, route string) *plugin.Chain {
	t.Helper()
	ch, err := build(t, route)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// pick runs one request and names where it goes: the first node of the
// upstream traffic-split chose, or "route" for the route's own.
func pick(r *plugintest.Request, ch *plugin.Chain, loop int) string {
	c := r.Reset(ch)
	c.Loop = loop
	if res := c.Request(); res.Stopped() {
		return fmt.Sprintf("stopped %d", res.Status)
	}
	if c.Upstream == nil {
		return "route"
	}
	return c.Upstream.Nodes().Addrs[0].String()
}

// APISIX's documented examples (the 3.0 docs' canary, blue-green, custom
// and multiple-match releases, multiple rules with upstream_id).
var docExamples = []string{
	`{"rules":[{"weighted_upstreams":[{"upstream":{"name":"upstream_A","type":"roundrobin","nodes":{"127.0.0.1:1981":10},"timeout":{"connect":15,"send":15,"read":15}},"weight":3},{"weight":2}]}]}`,
	`{"rules":[{"match":[{"vars":[["http_release","==","new_release"]]}],"weighted_upstreams":[{"upstream":{"name":"upstream_A","type":"roundrobin","nodes":{"127.0.0.1:1981":10}}}]}]}`,
	`{"rules":[{"match":[{"vars":[["arg_name","==","jack"],["http_user-id",">","23"],["http_apisix-key","~~","[a-z]+"]]}],"weighted_upstreams":[{"upstream":{"name":"upstream_A","type":"roundrobin","nodes":{"127.0.0.1:1981":10}},"weight":3},{"weight":2}]}]}`,
	`{"rules":[{"match":[{"vars":[["arg_name","==","jack"],["http_user-id",">","23"],["http_apisix-key","~~","[a-z]+"]]},{"vars":[["arg_name2","==","rose"],["http_user-id2","!",">","33"],["http_apisix-key2","~~","[a-z]+"]]}],"weighted_upstreams":[{"upstream":{"name":"upstream_A","type":"roundrobin","nodes":{"127.0.0.1:1981":20}},"weight":2},{"weight":1}]}]}`,
	`{"rules":[{"match":[{"vars":[["arg_x-api-name","==","jack"],["arg_x-api-age",">","23"],["arg_x-api-appkey","~~","[a-z]{1,5}"]]}],"weighted_upstreams":[{"upstream_id":1,"weight":3},{"weight":2}]},{"match":[{"vars":[["arg_x-api-name","==","rose"],["arg_x-api-age","<","18"]]}],"weighted_upstreams":[{"upstream_id":2,"weight":3},{"weight":2}]}]}`,
	`{"rules":[{"match":[{"vars":[["http_x-api-id","==","1"]]}],"weighted_upstreams":[{"upstream_id":"1","weight":1}]}]}`,
}

func TestDocExamples(t *testing.T) {
	for _, ex := range docExamples {
		if _, err := build(t, `{"traffic-split":`+ex+`}`); err != nil {
			t.Errorf("%s: %v", ex, err)
		}
	}
	// The current docs' examples send to https://httpbin.org: sluice has no
	// upstream TLS yet, which the upstream compiler says.
	_, err := build(t, `{"traffic-split":{"rules":[{"weighted_upstreams":[{"upstream":{"type":"roundrobin","scheme":"https","pass_host":"node","nodes":{"127.0.0.1:443":1}},"weight":3},{"weight":2}]}]}}`)
	if err == nil || !strings.Contains(err.Error(), `rules[0].weighted_upstreams[0].upstream.scheme: "https" is not supported yet`) {
		t.Errorf("https upstream: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for conf, want := range map[string]string{
		`{"rules":[{"weighted_upstreams":[]}]}`:                                                            "/rules/0/weighted_upstreams: minItems",
		`{"rules":[{"weighted_upstreams":[{"weight":-1}]}]}`:                                               "/rules/0/weighted_upstreams/0/weight: minimum",
		`{"rules":[{"weighted_upstreams":[{"upstream_id":"9"}]}]}`:                                         `rules[0].weighted_upstreams[0].upstream_id: no upstream with id "9"`,
		`{"rules":[{"weighted_upstreams":[{"upstream_id":"1","upstream":{"nodes":{"127.0.0.1:1":1}}}]}]}`:  "set upstream_id or upstream, not both",
		`{"rules":[{"weighted_upstreams":[{"weight":0}]}]}`:                                                "every weight is 0",
		`{"rules":[{"match":[{"vars":[["arg_a","??","1"]]}]}]}`:                                            "rules[0].match[0].vars",
		`{"rules":[{"weighted_upstreams":[{"upstream":{"nodes":{"127.0.0.1:1":1},"retries":2}}]}]}`:        "upstream.retries: not supported on traffic-split's inline upstream",
		`{"rules":[{"weighted_upstreams":[{"upstream":{"nodes":{"127.0.0.1:1":1},"checks":{}}}]}]}`:        "upstream.checks: not supported",
		`{"rules":[{"weighted_upstreams":[{"upstream":{"nodes":{"127.0.0.1:1":1},"service_name":"x"}}]}]}`: "service_name",
		`{"rules":[{"weighted_upstreams":[{"upstream":{"nodes":{}}}]}]}`:                                   "upstream.nodes: at least one node is required",
		`{"rules":[{"weighted_upstreams":[{"upstream":{"nodes":{"127.0.0.1:1":1},"type":"fancy"}}]}]}`:     `upstream.type: want roundrobin`,
		`{"rules":[],"extra":1}`: "additional properties 'extra' not allowed",
	} {
		_, err := build(t, `{"traffic-split":`+conf+`}`)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", conf, err, want)
		}
	}
}

// The first rule whose match holds decides; any of a rule's match entries
// may hold (each entry's vars all must); no rule holding: the route's.
func TestRules(t *testing.T) {
	ch := mustBuild(t, `{"traffic-split":`+docExamples[4]+`}`)
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"x-api-name=jack&x-api-age=30&x-api-appkey=abc", []string{"10.0.0.1:80", "route", "10.0.0.1:80", "route", "10.0.0.1:80"}},
		{"x-api-name=rose&x-api-age=10", []string{"10.0.0.2:80", "route", "10.0.0.2:80", "route", "10.0.0.2:80"}},
		{"x-api-name=jack&x-api-age=20", []string{"route", "route"}},
		{"", []string{"route"}},
	} {
		r := plugintest.NewRequest("GET /?"+tt.query+" HTTP/1.1\r\nHost: a\r\n\r\n", "127.0.0.1:5000")
		var got []string
		for range tt.want {
			got = append(got, pick(r, ch, 0))
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("?%s: %v, want %v", tt.query, got, tt.want)
		}
	}
	// Two match entries: either holds.
	ch = mustBuild(t, `{"traffic-split":{"rules":[{"match":[{"vars":[["arg_a","==","1"]]},{"vars":[["http_x","==","y"]]}],"weighted_upstreams":[{"upstream_id":"2"}]}]}}`)
	for raw, want := range map[string]string{
		"GET /?a=1 HTTP/1.1\r\nHost: a\r\n\r\n":         "10.0.0.2:80",
		"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n":     "10.0.0.2:80",
		"GET /?a=2 HTTP/1.1\r\nHost: a\r\nX: z\r\n\r\n": "route",
	} {
		if got := pick(plugintest.NewRequest(raw, "127.0.0.1:5000"), ch, 0); got != want {
			t.Errorf("%q: %s, want %s", raw, got, want)
		}
	}
}

// Weights: over a cycle of Σweight requests each entry gets its weight,
// interleaved (nginx's smooth order), on each loop independently.
func TestSmoothWeights(t *testing.T) {
	ch := mustBuild(t, `{"traffic-split":{"rules":[{"weighted_upstreams":[{"upstream_id":"1","weight":5},{"upstream_id":"2","weight":1},{"weight":1},{"upstream":{"nodes":{"10.0.0.9:80":1}},"weight":0}]}]}}`)
	r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "127.0.0.1:5000")
	var loop0, loop1 []string
	for range 7 {
		loop0 = append(loop0, pick(r, ch, 0))
	}
	loop1 = append(loop1, pick(r, ch, 1))
	want := "10.0.0.1:80 10.0.0.1:80 10.0.0.2:80 10.0.0.1:80 route 10.0.0.1:80 10.0.0.1:80"
	if got := strings.Join(loop0, " "); got != want {
		t.Errorf("loop 0: %s\nwant     %s", got, want)
	}
	if loop1[0] != "10.0.0.1:80" {
		t.Errorf("loop 1 starts its own cycle: %s", loop1[0])
	}
	// A loop index the plugin was not built for (a transport outside the
	// loops) shares a locked state; it still follows the weights.
	counts := map[string]int{}
	for range 700 {
		counts[pick(r, ch, 99)]++
	}
	if counts["10.0.0.1:80"] != 500 || counts["10.0.0.2:80"] != 100 || counts["route"] != 100 {
		t.Errorf("counts %v", counts)
	}
}

// An inline upstream is compiled once, with APISIX's 15 s timeouts for the
// ones it does not set, and its own balancer.
func TestInlineUpstream(t *testing.T) {
	ch := mustBuild(t, `{"traffic-split":{"rules":[{"weighted_upstreams":[{"upstream":{"type":"roundrobin","nodes":{"10.0.1.1:80":1,"10.0.1.2:80":1},"timeout":{"read":3},"pass_host":"rewrite","upstream_host":"b.example"}}]}]}}`)
	r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "127.0.0.1:5000")
	c := r.Reset(ch)
	c.Request()
	us := c.Upstream
	if us == nil || len(us.Nodes().Addrs) != 2 {
		t.Fatalf("upstream %+v", us)
	}
	got, _ := json.Marshal(us.Timeout)
	if string(got) != `{"Connect":15,"Send":15,"Read":3}` || us.PassHost != "rewrite" || us.UpstreamHost != "b.example" {
		t.Errorf("timeouts %s, pass_host %s %s", got, us.PassHost, us.UpstreamHost)
	}
	c2 := r.Reset(ch)
	c2.Request()
	if c2.Upstream != us {
		t.Error("the inline upstream was not compiled once")
	}
}
