package limitcount_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/limitcount"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// t0 is the start of a 60-second window (and of a 1-second one).
var t0 = time.Unix(1_800_000_000, 0)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

const get = "GET /get HTTP/1.1\r\nHost: example.com\r\n\r\n"

// hit runs one request through ch at time when and returns "status
// headers" ("200 X-RateLimit-Limit: 2, ...").
func hit(ch *plugin.Chain, raw, remote string, when time.Time) string {
	r := plugintest.NewRequest(raw, remote)
	c := r.Reset(ch)
	c.Start = when
	res := c.Request()
	st := 200
	if res.Stopped() {
		st = res.Status
	}
	out := fmt.Sprint(st)
	if h := strings.TrimSuffix(strings.ReplaceAll(r.RespHeaders(), "\r\n", ", "), ", "); h != "" {
		out += " " + h
	}
	if res.Stopped() && res.Body != nil {
		out += " body=" + string(res.Body)
	}
	return out
}

type step struct {
	raw, remote string
	when        float64
	want        string
}

func check(t *testing.T, ch *plugin.Chain, steps []step) {
	t.Helper()
	for i, s := range steps {
		raw, remote := s.raw, s.remote
		if raw == "" {
			raw = get
		}
		if remote == "" {
			remote = "10.0.0.1:5000"
		}
		if got := hit(ch, raw, remote, at(s.when)); got != s.want {
			t.Errorf("request %d (t=%gs from %s): got\n\t%s\nwant\n\t%s", i, s.when, remote, got, s.want)
		}
	}
}

func build(t testing.TB, route string) *plugin.Chain {
	t.Helper()
	reg := plugintest.Registry(t, limitcount.Def)
	return plugintest.MustBuild(t, reg, plugintest.Config{Route: route})
}

func hdrs(limit, remaining, reset int) string {
	return fmt.Sprintf("X-RateLimit-Limit: %d, X-RateLimit-Remaining: %d, X-RateLimit-Reset: %d", limit, remaining, reset)
}

func TestWindow(t *testing.T) {
	ch := build(t, `{"limit-count":{"count":2,"time_window":60}}`)
	check(t, ch, []step{
		{when: 0, want: "200 " + hdrs(2, 1, 60)},
		{when: 10.5, want: "200 " + hdrs(2, 0, 50)},
		{when: 59.9, want: "503 " + hdrs(2, 0, 1)},
		// A new window: the count starts again.
		{when: 60, want: "200 " + hdrs(2, 1, 60)},
		{when: 61, want: "200 " + hdrs(2, 0, 59)},
		{when: 62, want: "503 " + hdrs(2, 0, 58)},
		// A window skipped entirely.
		{when: 200, want: "200 " + hdrs(2, 1, 40)},
	})
}

func TestRejectedAndHeaders(t *testing.T) {
	ch := build(t, `{"limit-count":{"count":1,"time_window":30,"rejected_code":429,"rejected_msg":"slow down <now>","show_limit_quota_header":false}}`)
	check(t, ch, []step{
		{when: 0, want: "200"},
		{when: 1, want: `429 body={"error_msg":"slow down <now>"}` + "\n"},
	})
}

func TestMetadataHeaderNames(t *testing.T) {
	reg := plugintest.Registry(t, limitcount.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{
		Route:    `{"limit-count":{"count":1,"time_window":10}}`,
		Metadata: map[string]string{"limit-count": `{"limit_header":"X-Limit","remaining_header":"X-Left"}`},
	})
	check(t, ch, []step{{when: 3, want: "200 X-Limit: 1, X-Left: 0, X-RateLimit-Reset: 7"}})
	_, err := plugintest.Build(t, reg, plugintest.Config{
		Route:    `{"limit-count":{"count":1,"time_window":10}}`,
		Metadata: map[string]string{"limit-count": `{"limit":"X"}`},
	})
	if err == nil || !strings.Contains(err.Error(), "plugin_metadata") {
		t.Errorf("bad metadata: %v", err)
	}
}

func TestKeys(t *testing.T) {
	withUser := func(u string) string {
		return "GET /get HTTP/1.1\r\nHost: example.com\r\nX-User: " + u + "\r\n\r\n"
	}
	t.Run("remote_addr", func(t *testing.T) {
		ch := build(t, `{"limit-count":{"count":1,"time_window":60,"show_limit_quota_header":false}}`)
		check(t, ch, []step{
			{remote: "10.0.0.1:1", want: "200"},
			{remote: "10.0.0.1:2", want: "503"}, // the port is not part of it
			{remote: "10.0.0.2:1", want: "200"},
			{remote: "[::1]:1", want: "200"},
			{remote: "[::1]:1", want: "503"},
		})
	})
	t.Run("var header, absent falls back to the client address", func(t *testing.T) {
		ch := build(t, `{"limit-count":{"count":1,"time_window":60,"key":"http_x_user","show_limit_quota_header":false}}`)
		check(t, ch, []step{
			{raw: withUser("ann"), remote: "10.0.0.1:1", want: "200"},
			{raw: withUser("ann"), remote: "10.0.0.2:1", want: "503"},
			{raw: withUser("bob"), remote: "10.0.0.1:1", want: "200"},
			{remote: "10.0.0.1:1", want: "200"},
			{remote: "10.0.0.1:1", want: "503"},
			{remote: "10.0.0.3:1", want: "200"},
		})
	})
	t.Run("var_combination", func(t *testing.T) {
		ch := build(t, `{"limit-count":{"count":1,"time_window":60,"key_type":"var_combination","key":"$remote_addr $http_x_user","show_limit_quota_header":false}}`)
		check(t, ch, []step{
			{raw: withUser("ann"), remote: "10.0.0.1:1", want: "200"},
			{raw: withUser("ann"), remote: "10.0.0.1:1", want: "503"},
			{raw: withUser("ann"), remote: "10.0.0.2:1", want: "200"},
			{raw: withUser("bob"), remote: "10.0.0.1:1", want: "200"},
			{remote: "10.0.0.1:1", want: "200"}, // "10.0.0.1 ": remote_addr resolved
			{remote: "10.0.0.1:1", want: "503"},
		})
	})
	t.Run("var_combination all absent falls back", func(t *testing.T) {
		ch := build(t, `{"limit-count":{"count":1,"time_window":60,"key_type":"var_combination","key":"${http_x_user}:${arg_k}","show_limit_quota_header":false}}`)
		check(t, ch, []step{
			{remote: "10.0.0.1:1", want: "200"},
			{remote: "10.0.0.1:1", want: "503"},
			{remote: "10.0.0.2:1", want: "200"},
			{raw: "GET /get?k=1 HTTP/1.1\r\nHost: a\r\n\r\n", remote: "10.0.0.1:1", want: "200"},
			{raw: "GET /get?k=1 HTTP/1.1\r\nHost: a\r\n\r\n", remote: "10.0.0.2:1", want: "503"},
		})
	})
	t.Run("constant", func(t *testing.T) {
		ch := build(t, `{"limit-count":{"count":2,"time_window":60,"key_type":"constant","key":"all","show_limit_quota_header":false}}`)
		check(t, ch, []step{
			{remote: "10.0.0.1:1", want: "200"},
			{remote: "10.0.0.2:1", want: "200"},
			{remote: "10.0.0.3:1", want: "503"},
			{remote: "10.0.0.3:1", when: 60, want: "200"},
		})
	})
}

// routes builds one snapshot with a chain per route config, as the server
// does: one Build, the routes' layers, a shared service layer.
func routes(t *testing.T, reg *plugin.Registry, service string, rs ...string) ([]*plugin.Chain, error) {
	t.Helper()
	b := reg.NewBuild(nil)
	if err := b.SetGlobal(nil); err != nil {
		return nil, err
	}
	var out []*plugin.Chain
	for i, r := range rs {
		layers := []plugin.Layer{{Origin: plugin.OriginRoute, Owner: fmt.Sprintf("routes/%d", i+1), Plugins: plugintest.JSON(t, r)}}
		if service != "" {
			layers = append(layers, plugin.Layer{Origin: plugin.OriginService, Owner: "services/s", Plugins: plugintest.JSON(t, service)})
		}
		ch, err := b.Chain(layers...)
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, nil
}

func mustRoutes(t *testing.T, reg *plugin.Registry, service string, rs ...string) []*plugin.Chain {
	t.Helper()
	chs, err := routes(t, reg, service, rs...)
	if err != nil {
		t.Fatal(err)
	}
	return chs
}

func TestGroupSharesCounters(t *testing.T) {
	reg := plugintest.Registry(t, limitcount.Def)
	g := `{"limit-count":{"count":2,"time_window":60,"group":"g1","show_limit_quota_header":false}}`
	other := `{"limit-count":{"count":2,"time_window":60,"show_limit_quota_header":false}}`
	chs := mustRoutes(t, reg, "", g, g, other)
	check(t, chs[0], []step{{want: "200"}})
	check(t, chs[1], []step{{want: "200"}, {want: "503"}})
	check(t, chs[0], []step{{want: "503"}})
	check(t, chs[2], []step{{want: "200"}}) // not in the group

	// A rebuild where a new route of the group is built first: the group
	// adopts the counters its unchanged routes had. The serving chains
	// hold them meanwhile (Build.Keep holds them only weakly).
	runtime.GC()
	b := reg.NewBuild(nil)
	if err := b.SetGlobal(nil); err != nil {
		t.Fatal(err)
	}
	fresh, err := b.Chain(plugin.Layer{Origin: plugin.OriginRoute, Owner: "routes/9", Plugins: plugintest.JSON(t, g)})
	if err != nil {
		t.Fatal(err)
	}
	old, err := b.Chain(plugin.Layer{Origin: plugin.OriginRoute, Owner: "routes/1", Plugins: plugintest.JSON(t, g)})
	if err != nil {
		t.Fatal(err)
	}
	check(t, fresh, []step{{want: "503"}})
	check(t, old, []step{{want: "503"}, {when: 60, want: "200"}})
	check(t, fresh, []step{{when: 60, want: "200"}, {when: 60, want: "503"}})
	runtime.KeepAlive(chs)
}

func TestGroupViaService(t *testing.T) {
	// APISIX's documented way: the plugin on a service, routes under it.
	reg := plugintest.Registry(t, limitcount.Def)
	chs := mustRoutes(t, reg, `{"limit-count":{"count":1,"time_window":30,"rejected_code":429,"group":"srv1"}}`, `{}`, `{}`)
	check(t, chs[0], []step{{want: "200 " + hdrs(1, 0, 30)}})
	check(t, chs[1], []step{{want: "429 " + hdrs(1, 0, 30)}})
}

func TestGroupMismatch(t *testing.T) {
	reg := plugintest.Registry(t, limitcount.Def)
	_, err := routes(t, reg, "",
		`{"limit-count":{"count":2,"time_window":60,"group":"g1"}}`,
		`{"limit-count":{"count":3,"time_window":60,"group":"g1"}}`)
	if err == nil || !strings.Contains(err.Error(), `routes/2: plugins.limit-count: group "g1": configured differently`) {
		t.Errorf("got %v", err)
	}
	// Defaults written out are the same config.
	if _, err := routes(t, reg, "",
		`{"limit-count":{"count":2,"time_window":60,"group":"g1"}}`,
		`{"limit-count":{"count":2,"time_window":60,"group":"g1","key":"remote_addr","rejected_code":503}}`); err != nil {
		t.Errorf("same config spelled differently: %v", err)
	}
}

func TestCountersSurviveUnrelatedChanges(t *testing.T) {
	reg := plugintest.Registry(t, limitcount.Def)
	lc := `{"limit-count":{"count":1,"time_window":60,"show_limit_quota_header":false}}`
	chs := mustRoutes(t, reg, "", lc, lc)
	check(t, chs[0], []step{{want: "200"}, {want: "503"}})
	check(t, chs[1], []step{{want: "200"}}) // each route counts on its own
	// Another route changes: route 1's counters stay (held by the serving
	// chain meanwhile).
	serving := chs
	runtime.GC()
	chs = mustRoutes(t, reg, "", lc, `{}`)
	runtime.KeepAlive(serving)
	check(t, chs[0], []step{{want: "503"}})
	// Its own config changes: fresh counters.
	chs = mustRoutes(t, reg, "", `{"limit-count":{"count":1,"time_window":60,"show_limit_quota_header":false,"rejected_code":429}}`)
	check(t, chs[0], []step{{want: "200"}, {want: "429"}})
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ route, want string }{
		{`{"limit-count":{"count":1}}`, "missing property 'time_window'"},
		{`{"limit-count":{"count":0,"time_window":1}}`, "/count: exclusiveMinimum: got 0, want 0"},
		{`{"limit-count":{"count":1,"time_window":1,"key_type":"header"}}`, "/key_type: value must be one of"},
		{`{"limit-count":{"count":1,"time_window":1,"rejected_code":600}}`, "/rejected_code: maximum: got 600, want 599"},
		{`{"limit-count":{"count":1,"time_window":1,"nope":1}}`, "additional properties 'nope' not allowed"},
		{`{"limit-count":{"count":1,"time_window":1,"policy":"redis","redis_host":"127.0.0.1"}}`, `policy "redis" is not supported yet`},
		{`{"limit-count":{"count":1,"time_window":1,"policy":"redis-cluster","redis_cluster_nodes":["a:1","b:2"]}}`, `policy "redis-cluster" is not supported yet`},
		{`{"limit-count":{"count":1,"time_window":1,"redis_host":"h","redis_port":1}}`, "redis_host, redis_port: Redis settings are not supported yet"},
		{`{"limit-count":{"count":1,"time_window":1,"key_type":"var_combination","key":"plain"}}`, "names no $variable"},
		{`{"limit-count":{"count":4294967296,"time_window":1}}`, "/count: maximum: got"},
	}
	reg := plugintest.Registry(t, limitcount.Def)
	for _, tt := range tests {
		_, err := plugintest.Build(t, reg, plugintest.Config{Route: tt.route})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\n\tgot %v\n\twant %q", tt.route, err, tt.want)
		}
	}
}

// TestRealWindowResets runs on the wall clock: a 1-second window, spent,
// then waited out.
func TestRealWindowResets(t *testing.T) {
	ch := build(t, `{"limit-count":{"count":2,"time_window":1}}`)
	r := plugintest.NewRequest(get, "10.0.0.1:5000")
	run := func() (plugin.Result, string) {
		c := r.Reset(ch)
		c.Start = time.Now()
		res := c.Request()
		return res, r.RespHeaders()
	}
	// Three requests in one window: start just after a second begins,
	// and try again (in a later, fresh window) should a loaded machine
	// stretch them past its end.
	var got []string
	for attempt := 0; ; attempt++ {
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 20*time.Millisecond)))
		t1 := time.Now()
		got = got[:0]
		for range 3 {
			res, h := run()
			got = append(got, fmt.Sprint(res.Status, " ", strings.Contains(h, "X-RateLimit-Reset: 1\r\n")))
		}
		if time.Now().Unix() == t1.Unix() || attempt == 4 {
			break
		}
	}
	// The third is rejected; a 1-second window always has 1 s to go.
	if g := strings.Join(got, ", "); g != "0 true, 0 true, 503 true" {
		t.Fatalf("three requests in a 2-per-second window: %s", g)
	}
	var res plugin.Result
	deadline := time.Now().Add(3 * time.Second)
	for {
		time.Sleep(100 * time.Millisecond)
		if res, _ = run(); !res.Stopped() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the window never reset")
		}
	}
}

// Loops counting one key at once never let more than count through.
func TestConcurrentExact(t *testing.T) {
	for _, conf := range []string{
		`{"limit-count":{"count":1000,"time_window":60,"show_limit_quota_header":false}}`,
		`{"limit-count":{"count":1000,"time_window":60,"key_type":"constant","key":"k"}}`,
	} {
		ch := build(t, conf)
		const loops, each = 4, 600
		var passed [loops]int
		done := make(chan int)
		for i := range loops {
			go func() {
				r := plugintest.NewRequest(get, "10.0.0.1:5000")
				for range each {
					c := r.Reset(ch)
					c.Start = at(1)
					if !c.Request().Stopped() {
						passed[i]++
					}
				}
				done <- i
			}()
		}
		total := 0
		for range loops {
			total += passed[<-done]
		}
		if total != 1000 {
			t.Errorf("%s: %d passed, want 1000", conf, total)
		}
	}
}

// A build that only checks a config (the Admin API compiles a write
// before storing it) and never serves leaves a group's counters alone,
// even when it comes before the serving snapshot's first request.
func TestGroupSurvivesCheckBuilds(t *testing.T) {
	reg := plugintest.Registry(t, limitcount.Def)
	g := `{"limit-count":{"count":1,"time_window":60,"group":"g","show_limit_quota_header":false}}`
	serving := mustRoutes(t, reg, "", g)
	mustRoutes(t, reg, "", g)       // a check of route 1 alone
	mustRoutes(t, reg, "", `{}`, g) // a check of route 2 joining the group
	runtime.GC()
	check(t, serving[0], []step{{want: "200"}, {want: "503"}})
	chs := mustRoutes(t, reg, "", g, g) // the next real build
	check(t, chs[0], []step{{want: "503"}})
	check(t, chs[1], []step{{want: "503"}})
}

// A sliding window counts the previous window's requests too, weighted by
// how much of it the window still covers, so a key cannot spend its quota
// twice around a boundary, as with a fixed window.
func TestSlidingWindow(t *testing.T) {
	ch := build(t, `{"limit-count":{"count":4,"time_window":10,"window_type":"sliding","rejected_code":429}}`)
	check(t, ch, []step{
		{when: 6, want: "200 " + hdrs(4, 3, 4)},
		{when: 7, want: "200 " + hdrs(4, 2, 3)},
		{when: 8, want: "200 " + hdrs(4, 1, 2)},
		{when: 9, want: "200 " + hdrs(4, 0, 1)},
		{when: 9.5, want: "429 " + hdrs(4, 0, 1)},
		// A new window: the last one's 4 still weigh 4 × 9.5/10 = 3.8.
		{when: 10.5, want: "200 " + hdrs(4, 0, 10)},
		// 3.6 + 1 >= 4; Reset is APISIX's wait for room, 9 - 3/0.4 = 1.5 s.
		{when: 11, want: "429 " + hdrs(4, 0, 2)},
		// Half the window on, the last window's share is 2.
		{when: 15, want: "200 " + hdrs(4, 0, 5)},
		{when: 15.1, want: "200 " + hdrs(4, 0, 5)}, // 1.96 + 2 < 4
		{when: 15.2, want: "429 " + hdrs(4, 0, 3)}, // 1.92 + 3 >= 4: room in 4.8 - 1/0.4 = 2.3 s
		// Two windows on, the count is the current window's alone.
		{when: 31, want: "200 " + hdrs(4, 3, 9)},
	})
}

// count and time_window as variables (APISIX 3.16's lua-resty-expr-like
// strings), with defaults; a value that is not a positive integer is an
// error (500), unless allow_degradation lets the request through.
func TestNumbersFromVariables(t *testing.T) {
	quota := func(q string) string {
		return "GET /get HTTP/1.1\r\nHost: example.com\r\nX-Quota: " + q + "\r\n\r\n"
	}
	ch := build(t, `{"limit-count":{"count":"${http_x_quota ?? 1}","time_window":"$arg_w","show_limit_quota_header":true}}`)
	check(t, ch, []step{
		{raw: "GET /get?w=60 HTTP/1.1\r\nHost: a\r\n\r\n", want: "200 " + hdrs(1, 0, 60)},
		{raw: "GET /get?w=60 HTTP/1.1\r\nHost: a\r\n\r\n", want: "503 " + hdrs(1, 0, 60)},
		// Another window length counts apart.
		{raw: "GET /get?w=30 HTTP/1.1\r\nHost: a\r\n\r\n", want: "200 " + hdrs(1, 0, 30)},
		{raw: "GET /get?w=60 HTTP/1.1\r\nHost: a\r\nX-Quota: 3\r\n\r\n", want: "200 " + hdrs(3, 1, 60)},
		{raw: "GET /get HTTP/1.1\r\nHost: a\r\n\r\n", want: "500"},                      // no time_window
		{raw: "GET /get?w=60 HTTP/1.1\r\nHost: a\r\nX-Quota: 1.5\r\n\r\n", want: "500"}, // not an integer
		{raw: "GET /get?w=60 HTTP/1.1\r\nHost: a\r\nX-Quota: 0\r\n\r\n", want: "500"},
	})
	ch = build(t, `{"limit-count":{"count":"$http_x_quota","time_window":60,"allow_degradation":true}}`)
	check(t, ch, []step{
		{raw: quota("x"), want: "200"},
		{raw: quota("1"), want: "200 " + hdrs(1, 0, 60)},
		{raw: quota("1"), want: "503 " + hdrs(1, 0, 60)},
	})
}

// rules apply in turn, each keyed by its variables (skipped when none is
// present), with its headers prefixed; a request no rule applies to is
// refused with 500, as APISIX does.
func TestRules(t *testing.T) {
	ch := build(t, `{"limit-count":{"rejected_code":429,"rules":[
		{"count":2,"time_window":60,"key":"$http_x_user"},
		{"count":"${http_x_tier_quota ?? 1}","time_window":30,"key":"tier:${http_x_tier}","header_prefix":"Tier"}]}}`)
	req := func(hdrs ...string) string {
		raw := "GET /get HTTP/1.1\r\nHost: a\r\n"
		for _, h := range hdrs {
			raw += h + "\r\n"
		}
		return raw + "\r\n"
	}
	h1 := func(rem int) string {
		return fmt.Sprintf("X-1-RateLimit-Limit: 2, X-1-RateLimit-Remaining: %d, X-1-RateLimit-Reset: 60", rem)
	}
	ht := func(limit, rem int) string {
		return fmt.Sprintf("X-Tier-RateLimit-Limit: %d, X-Tier-RateLimit-Remaining: %d, X-Tier-RateLimit-Reset: 30", limit, rem)
	}
	check(t, ch, []step{
		{raw: req("X-User: ann"), want: "200 " + h1(1)},
		{raw: req("X-User: ann", "X-Tier: gold"), want: "200 " + h1(0) + ", " + ht(1, 0)},
		{raw: req("X-User: ann"), want: "429 " + h1(0)},
		{raw: req("X-Tier: gold"), want: "429 " + ht(1, 0)},
		{raw: req("X-Tier: gold", "X-Tier-Quota: 3"), want: "200 " + ht(3, 1)},
		{raw: req("X-Tier: silver"), want: "200 " + ht(1, 0)},
		{raw: req("X-Other: 1"), want: "500"},
	})
	for conf, want := range map[string]string{
		`{"count":1,"time_window":1,"rules":[{"count":1,"time_window":1,"key":"$remote_addr"}]}`:    "count/time_window and rules cannot be specified at the same time",
		`{"group":"g","rules":[{"count":1,"time_window":1,"key":"$remote_addr"}]}`:                  "group and rules cannot be specified at the same time",
		`{"rules":[{"count":1,"time_window":1,"key":"$a"},{"count":2,"time_window":1,"key":"$a"}]}`: `rules[1]: duplicate key "$a" in rules`,
		`{"rules":[{"count":1,"time_window":1,"key":"plain"}]}`:                                     `rules[0].key: "plain" names no $variable`,
		`{"rules":[{"count":1,"key":"$a"}]}`:                                                        "missing property 'time_window'",
		`{"rules":[{"count":"x","time_window":1,"key":"$a"}]}`:                                      `rules[0].count: "x" is neither an integer nor has a $variable`,
		`{"rules":[]}`:                  "/rules: minItems",
		`{"count":"0","time_window":1}`: "count: want 1 to",
		`{"count":1,"time_window":1,"window_type":"rolling"}`:                                                                     "/window_type: value must be one of",
		`{"count":1,"time_window":1,"sync_interval":0.05}`:                                                                        "sync_interval: want -1 or at least 0.1",
		`{"count":1,"time_window":1,"policy":"redis-sentinel","redis_sentinels":[{"host":"h","port":1}],"redis_master_name":"m"}`: `policy "redis-sentinel" is not supported yet`,
		`{"count":1,"time_window":1,"sentinel_password":"x"}`:                                                                     "sentinel_password: Redis settings are not supported yet",
	} {
		_, err := plugintest.Build(t, plugintest.Registry(t, limitcount.Def), plugintest.Config{Route: `{"limit-count":` + conf + `}`})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s:\n\tgot %v\n\twant %q", conf, err, want)
		}
	}
}
