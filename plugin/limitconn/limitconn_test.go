package limitconn_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/limitconn"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

const get = "GET /get HTTP/1.1\r\nHost: example.com\r\nX-User: ann\r\n\r\n"

func build(t testing.TB, conf string) *plugin.Chain {
	t.Helper()
	return plugintest.MustBuild(t, plugintest.Registry(t, limitconn.Def), plugintest.Config{Route: `{"limit-conn":` + conf + `}`})
}

// flight is a set of requests entered and not yet logged.
type flight struct {
	t  *testing.T
	ch *plugin.Chain
	rs map[string]*plugintest.Request
}

// enter starts request name (from remote) and says what became of it:
// "pass", "wait 100ms" or the stop's status and body.
func (f *flight) enter(name, raw, remote string) string {
	r := plugintest.NewRequest(raw, remote)
	c := r.Reset(f.ch)
	c.Start = time.Now()
	res := c.Request()
	f.rs[name] = r
	switch {
	case res.Stopped() && res.Body != nil:
		return fmt.Sprintf("%d %s", res.Status, strings.TrimSpace(string(res.Body)))
	case res.Stopped():
		return fmt.Sprint(res.Status)
	case res.Delay > 0:
		if again := c.Request(); again.Stopped() || again.Delay > 0 {
			return fmt.Sprintf("resumed into %+v", again)
		}
		return "wait " + res.Delay.String()
	}
	return "pass"
}

// leave ends request name (its log phase).
func (f *flight) leave(name string) {
	r := f.rs[name]
	if r == nil {
		f.t.Fatalf("no request %s", name)
	}
	r.Ctx.Log()
	delete(f.rs, name)
}

func newFlight(t *testing.T, conf string) *flight {
	return &flight{t: t, ch: build(t, conf), rs: map[string]*plugintest.Request{}}
}

func TestConcurrency(t *testing.T) {
	f := newFlight(t, `{"conn":1,"burst":1,"default_conn_delay":0.1,"key":"remote_addr","only_use_default_delay":true}`)
	steps := []struct{ op, name, remote, want string }{
		{"enter", "a", "10.0.0.1:1", "pass"},
		{"enter", "b", "10.0.0.1:2", "wait 100ms"}, // in the burst
		{"enter", "c", "10.0.0.1:3", "503"},        // over it
		{"enter", "x", "10.0.0.2:1", "pass"},       // another key
		{"leave", "a", "", ""},
		{"enter", "d", "10.0.0.1:4", "wait 100ms"}, // b and d
		{"enter", "e", "10.0.0.1:5", "503"},
		{"leave", "c", "", ""}, // a refused request leaves nothing behind
		{"leave", "e", "", ""},
		{"leave", "b", "", ""},
		{"leave", "d", "", ""},
		{"enter", "f", "10.0.0.1:6", "pass"},
		{"enter", "g", "10.0.0.1:6", "wait 100ms"},
		{"leave", "f", "", ""},
		{"leave", "g", "", ""},
		{"enter", "h", "10.0.0.1:7", "pass"},
	}
	for i, s := range steps {
		if s.op == "leave" {
			f.leave(s.name)
			continue
		}
		if got := f.enter(s.name, get, s.remote); got != s.want {
			t.Errorf("step %d: %s: got %q, want %q", i, s.name, got, s.want)
		}
	}
}

func TestBurstDelays(t *testing.T) {
	// conn 2: the 3rd and 4th wait one unit, the 5th and 6th two.
	f := newFlight(t, `{"conn":2,"burst":4,"default_conn_delay":0.05,"key":"remote_addr","only_use_default_delay":true,"rejected_code":429,"rejected_msg":"busy"}`)
	want := []string{"pass", "pass", "wait 50ms", "wait 50ms", "wait 100ms", "wait 100ms", `429 {"error_msg":"busy"}`}
	for i, w := range want {
		if got := f.enter(fmt.Sprint(i), get, "10.0.0.1:1"); got != w {
			t.Errorf("request %d: got %q, want %q", i, got, w)
		}
	}
}

func TestUnitDelayFollowsLatency(t *testing.T) {
	f := newFlight(t, `{"conn":1,"burst":1,"default_conn_delay":0.1,"key":"remote_addr"}`)
	if got := f.enter("a", get, "10.0.0.1:1"); got != "pass" {
		t.Fatal(got)
	}
	// a went upstream and took 300ms there: the unit becomes (300+100)/2.
	c := &f.rs["a"].Ctx
	c.UpstreamStart = time.Now()
	c.UpstreamDone = c.UpstreamStart.Add(300 * time.Millisecond)
	if got := f.enter("b", get, "10.0.0.1:1"); got != "wait 100ms" {
		t.Fatal(got)
	}
	f.leave("a")
	if got := f.enter("c", get, "10.0.0.1:1"); got != "wait 200ms" {
		t.Errorf("after a 300ms request: %q, want wait 200ms", got)
	}
}

func TestKeys(t *testing.T) {
	f := newFlight(t, `{"conn":1,"burst":0,"default_conn_delay":0.1,"key_type":"var_combination","key":"$remote_addr $http_x_user"}`)
	bob := strings.Replace(get, "ann", "bob", 1)
	for i, s := range []struct{ raw, remote, want string }{
		{get, "10.0.0.1:1", "pass"},
		{get, "10.0.0.1:2", "503"},
		{bob, "10.0.0.1:3", "pass"},
		{get, "10.0.0.2:1", "pass"},
	} {
		if got := f.enter(fmt.Sprint(i), s.raw, s.remote); got != s.want {
			t.Errorf("request %d: got %q, want %q", i, got, s.want)
		}
	}
}

// stream runs limit-conn on stream connections: preread, then log when
// the stream ends.
type stream struct {
	t  *testing.T
	ch *plugin.Chain
	cs map[string]*plugin.Ctx
}

func newStream(t *testing.T, conf string) *stream {
	reg := plugintest.Registry(t, limitconn.Def)
	b := reg.NewBuild(nil)
	ch, err := b.StreamChain(plugin.Layer{Origin: plugin.OriginRoute, Owner: "stream_routes/1", Plugins: plugintest.JSON(t, `{"limit-conn":`+conf+`}`)})
	if err != nil {
		t.Fatal(err)
	}
	return &stream{t: t, ch: ch, cs: map[string]*plugin.Ctx{}}
}

func (s *stream) open(name, remote string) bool {
	c := new(plugin.Ctx)
	c.Reset(s.ch)
	c.Remote = netip.MustParseAddrPort(remote)
	c.Local = netip.MustParseAddrPort("127.0.0.1:9100")
	s.cs[name] = c
	return !c.Preread().Stopped()
}

func (s *stream) close(name string) { s.cs[name].Log() }

func TestStream(t *testing.T) {
	s := newStream(t, `{"conn":1,"burst":1,"default_conn_delay":5,"key":"remote_addr"}`)
	for i, st := range []struct {
		op, name, remote string
		want             bool
	}{
		{"open", "a", "10.0.0.1:1", true},
		{"open", "b", "10.0.0.1:2", true}, // the burst: not delayed on a stream
		{"open", "c", "10.0.0.1:3", false},
		{"open", "x", "10.0.0.2:1", true},
		{"close", "a", "", false},
		{"close", "c", "", false},
		{"open", "d", "10.0.0.1:4", true},
		{"open", "e", "10.0.0.1:5", false},
	} {
		if st.op == "close" {
			s.close(st.name)
			continue
		}
		if got := s.open(st.name, st.remote); got != st.want {
			t.Errorf("step %d: %s accepted=%v, want %v", i, st.name, got, st.want)
		}
	}
	// A stream keyed by server_port: every client counts together.
	s = newStream(t, `{"conn":1,"burst":0,"default_conn_delay":1,"key":"server_port"}`)
	if !s.open("a", "10.0.0.1:1") || s.open("b", "10.0.0.2:1") {
		t.Error("server_port key: want the second client refused")
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ conf, want string }{
		{`{"conn":1,"burst":0,"key":"remote_addr"}`, "missing property 'default_conn_delay'"},
		{`{"conn":0,"burst":0,"default_conn_delay":1,"key":"remote_addr"}`, "/conn: exclusiveMinimum"},
		{`{"conn":1.5,"burst":0,"default_conn_delay":1,"key":"remote_addr"}`, "/conn: got number, want integer"},
		{`{"conn":1,"burst":0,"default_conn_delay":0,"key":"remote_addr"}`, "/default_conn_delay: exclusiveMinimum"},
		{`{"conn":1,"burst":0,"default_conn_delay":1,"key":"k","key_type":"constant"}`, "/key_type"},
		{`{"conn":1,"burst":0,"default_conn_delay":1,"key":"remote_addr","policy":"redis","redis_host":"h"}`, `policy "redis" is not supported yet`},
		{`{"conn":1,"burst":0,"default_conn_delay":1,"key":"remote_addr","nope":true}`, "additional properties 'nope' not allowed"},
		{`{"conn":1,"burst":0,"default_conn_delay":1}`, "missing property 'key'"},
		{`{"conn":1,"burst":0,"default_conn_delay":1,"key":"remote_addr","key_ttl":60}`, "key_ttl: Redis settings are not supported yet"},
		{`{"default_conn_delay":1,"rules":[{"conn":1,"burst":0,"key":"$a"}],"conn":1}`, "conn, burst and key cannot be set with rules"},
		{`{"default_conn_delay":1,"rules":[{"conn":1,"burst":0,"key":"a"}]}`, `rules[0].key: "a" names no $variable`},
		{`{"default_conn_delay":1,"rules":[{"conn":"x","burst":0,"key":"$a"}]}`, `rules[0].conn: "x" is neither an integer`},
		{`{"default_conn_delay":1,"rules":[{"conn":1,"key":"$a"}]}`, "missing property 'burst'"},
		{`{"default_conn_delay":1,"rules":[]}`, "/rules: minItems"},
	}
	reg := plugintest.Registry(t, limitconn.Def)
	for _, tt := range tests {
		_, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"limit-conn":` + tt.conf + `}`})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\n\tgot %v\n\twant %q", tt.conf, err, tt.want)
		}
	}
}

// The example configs of APISIX's limit-conn page (3.18).
func TestAPISIXDocExamples(t *testing.T) {
	for _, ex := range []struct{ name, conf, want string }{
		{"Apply Rate Limiting by Remote Address", `{"conn":2,"burst":1,"default_conn_delay":0.1,"key_type":"var","key":"remote_addr","policy":"local","rejected_code":429}`, ""},
		{"Apply Rate Limiting by Remote Address and Consumer Name", `{"conn":2,"burst":1,"default_conn_delay":0.1,"rejected_code":429,"key_type":"var_combination","key":"$remote_addr $consumer_name"}`, ""},
		{"Rate Limit WebSocket Connections", `{"conn":2,"burst":1,"default_conn_delay":0.1,"key_type":"var","key":"remote_addr","rejected_code":429,"policy":"local"}`, ""},
		{"Share Quota Among APISIX Nodes with a Redis Server", `{"conn":1,"burst":1,"default_conn_delay":0.1,"rejected_code":429,"key_type":"var","key":"remote_addr","policy":"redis","redis_host":"192.168.xxx.xxx","redis_port":6379,"redis_password":"p@ssw0rd","redis_database":1}`, `policy "redis" is not supported yet`},
		{"Share Quota Among APISIX Nodes with a Redis Cluster", `{"conn":1,"burst":1,"default_conn_delay":0.1,"rejected_code":429,"key_type":"var","key":"remote_addr","policy":"redis-cluster","redis_cluster_nodes":["192.168.xxx.xxx:6379","192.168.xxx.xxx:16379"],"redis_password":"p@ssw0rd","redis_cluster_name":"redis-cluster-1","redis_cluster_ssl":true}`, `policy "redis-cluster" is not supported yet`},
	} {
		t.Run(ex.name, func(t *testing.T) {
			reg := plugintest.Registry(t, limitconn.Def)
			ch, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"limit-conn":` + ex.conf + `}`})
			if ex.want != "" {
				if err == nil || !strings.Contains(err.Error(), ex.want) {
					t.Errorf("got %v, want %q", err, ex.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f := &flight{t: t, ch: ch, rs: map[string]*plugintest.Request{}}
			for i, w := range []string{"pass", "pass", "wait 100ms", "429"} {
				if got := f.enter(fmt.Sprint(i), get, "10.0.0.1:1"); got != w {
					t.Errorf("request %d: got %q, want %q", i, got, w)
				}
			}
		})
	}
}

// Rate Limit by Rules (APISIX 3.16+), the page's example: a rule per
// subscription whose conn comes from a header (default 5), a stricter one
// per trial id; a rule whose key is absent does not apply, and a request
// no rule applies to gets 500, as in APISIX.
func TestRules(t *testing.T) {
	f := newFlight(t, `{"rejected_code":429,"default_conn_delay":0.1,"policy":"local","only_use_default_delay":true,"rules":[
		{"key":"${http_x_subscription_id}","conn":"${http_x_custom_conn ?? 5}","burst":1},
		{"key":"${http_x_trial_id}","conn":1,"burst":1}]}`)
	req := func(hdrs ...string) string {
		raw := "GET /get HTTP/1.1\r\nHost: a\r\n"
		for _, h := range hdrs {
			raw += h + "\r\n"
		}
		return raw + "\r\n"
	}
	count := func(name string, n int, hdrs ...string) string {
		got := map[string]int{}
		for i := range n {
			r := f.enter(fmt.Sprintf("%s%d", name, i), req(hdrs...), "10.0.0.1:1")
			got[strings.Fields(r)[0]]++
		}
		return fmt.Sprint(got)
	}
	leaveAll := func() {
		for n := range f.rs {
			f.leave(n)
		}
	}
	// 7 at once on one subscription: 5 in, 1 in the burst, 1 refused.
	if got := count("s", 7, "X-Subscription-ID: sub-123456789"); got != "map[429:1 pass:5 wait:1]" {
		t.Errorf("subscription, default conn: %s", got)
	}
	leaveAll()
	if got := count("c", 5, "X-Subscription-ID: sub-123456789", "X-Custom-Conn: 1"); got != "map[429:3 pass:1 wait:1]" {
		t.Errorf("subscription, X-Custom-Conn 1: %s", got)
	}
	leaveAll()
	if got := count("t", 5, "X-Trial-ID: trial-123456789"); got != "map[429:3 pass:1 wait:1]" {
		t.Errorf("trial: %s", got)
	}
	leaveAll()
	// A conn that is not a number skips its rule; then none applies.
	if got := count("x", 1, "X-Subscription-ID: s", "X-Custom-Conn: many"); got != "map[500:1]" {
		t.Errorf("unresolvable conn: %s", got)
	}
	if got := count("n", 1); got != "map[500:1]" {
		t.Errorf("no rule applies: %s", got)
	}
	leaveAll()
	// Both rules count a request that has both keys; leaving frees both.
	if got := count("b", 3, "X-Subscription-ID: both", "X-Custom-Conn: 1", "X-Trial-ID: both"); got != "map[429:1 pass:1 wait:1]" {
		t.Errorf("both rules: %s", got)
	}
	leaveAll()
	if got := count("a", 1, "X-Subscription-ID: both", "X-Custom-Conn: 1", "X-Trial-ID: both"); got != "map[pass:1]" {
		t.Errorf("after leaving: %s", got)
	}
	// conn and burst from variables at the top level: an unresolvable one
	// is 500, or passes with allow_degradation.
	f = newFlight(t, `{"conn":"$http_x_conn","burst":0,"default_conn_delay":0.1,"key":"remote_addr"}`)
	if got := count("v", 2, "X-Conn: 1"); got != "map[503:1 pass:1]" {
		t.Errorf("conn from a header: %s", got)
	}
	if got := count("w", 1); got != "map[500:1]" {
		t.Errorf("no conn: %s", got)
	}
	f = newFlight(t, `{"conn":"$http_x_conn","burst":0,"default_conn_delay":0.1,"key":"remote_addr","allow_degradation":true}`)
	if got := count("d", 1); got != "map[pass:1]" {
		t.Errorf("no conn, allow_degradation: %s", got)
	}
}

// Loops entering one key at once never let more than conn+burst in.
func TestConcurrentExact(t *testing.T) {
	ch := build(t, `{"conn":50,"burst":0,"default_conn_delay":1,"key":"remote_addr"}`)
	const loops, each = 4, 40
	done := make(chan int)
	for range loops {
		go func() {
			n := 0
			for range each {
				r := plugintest.NewRequest(get, "10.0.0.1:1")
				if !r.Run(ch).Stopped() {
					n++ // held: never logged
				}
			}
			done <- n
		}()
	}
	total := 0
	for range loops {
		total += <-done
	}
	if total != 50 {
		t.Errorf("%d in flight, want 50", total)
	}
}
