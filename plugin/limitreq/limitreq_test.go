package limitreq_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/limitreq"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

var t0 = time.Unix(1_800_000_000, 0)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

const get = "GET /get HTTP/1.1\r\nHost: example.com\r\n\r\n"

// hit runs a request at a time and says what became of it: "pass",
// "wait 500ms" (paused that long, then resumed to the end) or the stop's
// status and body.
func hit(ch *plugin.Chain, raw, remote string, when time.Time) string {
	r := plugintest.NewRequest(raw, remote)
	c := r.Reset(ch)
	c.Start = when
	res := c.Request()
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

type step struct {
	when   float64
	remote string
	raw    string
	want   string
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
			t.Errorf("request %d (t=%gs from %s): got %q, want %q", i, s.when, remote, got, s.want)
		}
	}
}

func build(t testing.TB, route string) *plugin.Chain {
	t.Helper()
	return plugintest.MustBuild(t, plugintest.Registry(t, limitreq.Def), plugintest.Config{Route: route})
}

func TestLeakyBucket(t *testing.T) {
	tests := []struct {
		name, conf string
		steps      []step
	}{
		{"rate 1, no burst", `{"rate":1,"burst":0,"key":"remote_addr"}`, []step{
			{when: 0, want: "pass"},
			{when: 0.5, want: "503"},
			{when: 0.999, want: "503"},
			{when: 1, want: "pass"},
			{when: 5, want: "pass"},
			{when: 5, remote: "10.0.0.2:1", want: "pass"}, // another key
			{when: 5.1, want: "503"},
		}},
		{"burst is delayed", `{"rate":1,"burst":2,"key":"remote_addr"}`, []step{
			{when: 0, want: "pass"},
			{when: 0, want: "wait 1s"},
			{when: 0.5, want: "wait 1.5s"},
			{when: 0.5, want: "503"},
			{when: 3, want: "pass"},
		}},
		{"nodelay passes the burst at once", `{"rate":1,"burst":2,"key":"remote_addr","nodelay":true}`, []step{
			{when: 0, want: "pass"},
			{when: 0, want: "pass"},
			{when: 0, want: "pass"},
			{when: 0, want: "503"},
			{when: 1, want: "pass"},
			{when: 1, want: "503"},
		}},
		{"rate 10, burst 3", `{"rate":10,"burst":3,"key":"remote_addr"}`, []step{
			{when: 0, want: "pass"},
			{when: 0, want: "wait 100ms"},
			{when: 0, want: "wait 200ms"},
			{when: 0, want: "wait 300ms"},
			{when: 0, want: "503"},
			{when: 0.15, want: "wait 250ms"},
		}},
		{"fractional rate and burst", `{"rate":0.5,"burst":0.5,"key":"remote_addr"}`, []step{
			{when: 0, want: "pass"},
			{when: 1, want: "wait 1s"},
			{when: 1.5, want: "503"},
			{when: 4, want: "pass"},
			{when: 4.5, want: "503"},
			{when: 5, want: "wait 1s"},
		}},
		{"delays under a millisecond do not pause", `{"rate":2000,"burst":1,"key":"remote_addr"}`, []step{
			{when: 0, want: "pass"},
			{when: 0, want: "pass"}, // 0.5 ms
			{when: 0, want: "503"},
		}},
		{"rejected code and message", `{"rate":1,"burst":0,"key":"remote_addr","rejected_code":429,"rejected_msg":"too many"}`, []step{
			{when: 0, want: "pass"},
			{when: 0, want: `429 {"error_msg":"too many"}`},
		}},
		{"key by header, absent: the client address", `{"rate":1,"burst":0,"key":"http_x_user","nodelay":true}`, []step{
			{raw: "GET / HTTP/1.1\r\nHost: a\r\nX-User: ann\r\n\r\n", want: "pass"},
			{raw: "GET / HTTP/1.1\r\nHost: a\r\nX-User: ann\r\n\r\n", remote: "10.0.0.9:1", want: "503"},
			{raw: "GET / HTTP/1.1\r\nHost: a\r\nX-User: bob\r\n\r\n", want: "pass"},
			{want: "pass"},
			{want: "503"},
		}},
		{"var_combination", `{"rate":1,"burst":0,"key_type":"var_combination","key":"$remote_addr $http_x_user"}`, []step{
			{raw: "GET / HTTP/1.1\r\nHost: a\r\nX-User: ann\r\n\r\n", want: "pass"},
			{raw: "GET / HTTP/1.1\r\nHost: a\r\nX-User: bob\r\n\r\n", want: "pass"},
			{raw: "GET / HTTP/1.1\r\nHost: a\r\nX-User: bob\r\n\r\n", want: "503"},
			{raw: "GET / HTTP/1.1\r\nHost: a\r\nX-User: bob\r\n\r\n", remote: "10.0.0.2:1", want: "pass"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, build(t, `{"limit-req":`+tt.conf+`}`), tt.steps)
		})
	}
}

func TestBucketsSurviveUnrelatedChanges(t *testing.T) {
	reg := plugintest.Registry(t, limitreq.Def)
	conf := `{"limit-req":{"rate":1,"burst":0,"key":"remote_addr"}}`
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: conf})
	check(t, ch, []step{{want: "pass"}})
	serving := ch // holds the state meanwhile (Build.Keep holds it weakly)
	runtime.GC()
	ch = plugintest.MustBuild(t, reg, plugintest.Config{Route: conf, Service: `{}`})
	runtime.KeepAlive(serving)
	check(t, ch, []step{{when: 0.1, want: "503"}})
	ch = plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"limit-req":{"rate":1,"burst":0,"key":"remote_addr","rejected_code":429}}`})
	check(t, ch, []step{{when: 0.2, want: "pass"}, {when: 0.3, want: "429"}})
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ route, want string }{
		{`{"limit-req":{"rate":1,"burst":0}}`, "missing property 'key'"},
		{`{"limit-req":{"rate":0,"burst":0,"key":"remote_addr"}}`, "/rate: exclusiveMinimum"},
		{`{"limit-req":{"rate":1,"burst":-1,"key":"remote_addr"}}`, "/burst: minimum"},
		{`{"limit-req":{"rate":1,"burst":0,"key":"k","key_type":"constant"}}`, "/key_type: value must be one of"},
		{`{"limit-req":{"rate":1,"burst":0,"key":"remote_addr","policy":"redis","redis_host":"h"}}`, `policy "redis" is not supported yet`},
		{`{"limit-req":{"rate":1,"burst":0,"key":"remote_addr","redis_timeout":5}}`, "redis_timeout: Redis settings are not supported yet"},
		{`{"limit-req":{"rate":1,"burst":0,"key":"remote_addr","delay":1}}`, "additional properties 'delay' not allowed"},
		{`{"limit-req":{"rate":1,"burst":0,"key":""}}`, "a variable name is required"},
		{`{"limit-req":{"rate":1e-9,"burst":1e12,"key":"remote_addr"}}`, "more backlog than sluice can count"},
	}
	reg := plugintest.Registry(t, limitreq.Def)
	for _, tt := range tests {
		_, err := plugintest.Build(t, reg, plugintest.Config{Route: tt.route})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\n\tgot %v\n\twant %q", tt.route, err, tt.want)
		}
	}
}

// The example configs of APISIX's limit-req page (3.18).
func TestAPISIXDocExamples(t *testing.T) {
	tests := []struct {
		name, conf string
		steps      []step
	}{
		{"Apply Rate Limiting by Remote Address", `{"rate":1,"burst":0,"key":"remote_addr","key_type":"var","rejected_code":429,"policy":"local","nodelay":true}`,
			[]step{{want: "pass"}, {want: "429"}, {want: "429"}}},
		{"Implement API Throttling (at once)", `{"rate":1,"burst":1,"key":"remote_addr","rejected_code":429,"policy":"local"}`,
			[]step{{want: "pass"}, {want: "wait 1s"}, {want: "429"}}},
		// The page's three requests one after the other (curl waits for each
		// answer): the second waits its turn, the third comes after it and
		// waits too — "200 responses: 3".
		{"Implement API Throttling (one after the other)", `{"rate":1,"burst":1,"key":"remote_addr","rejected_code":429,"policy":"local"}`,
			[]step{{when: 0, want: "pass"}, {when: 0, want: "wait 1s"}, {when: 1, want: "wait 1s"}}},
		// PATCH {"nodelay": true} merges into the route's config. The page
		// says "200 responses: 1 ; 429 responses: 2", which is what burst 0
		// gives; with its burst of 1, APISIX's resty.limit.req lets the
		// second through too (excess 1000 is not above burst 1000).
		{"... with nodelay patched in", `{"rate":1,"burst":1,"key":"remote_addr","rejected_code":429,"policy":"local","nodelay":true}`,
			[]step{{want: "pass"}, {want: "pass"}, {want: "429"}}},
		{"... or burst updated to 0", `{"rate":1,"burst":0,"key":"remote_addr","rejected_code":429,"policy":"local"}`,
			[]step{{want: "pass"}, {want: "429"}, {want: "429"}}},
		{"Rate Limit by Remote Address and Consumer Name", `{"rate":1,"burst":0,"key":"$remote_addr $consumer_name","key_type":"var_combination","rejected_code":429}`,
			[]step{{want: "pass"}, {want: "429"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, build(t, `{"limit-req":`+tt.conf+`}`), tt.steps)
		})
	}
	_, err := plugintest.Build(t, plugintest.Registry(t, limitreq.Def), plugintest.Config{Route: `{"limit-req":{"rate":1,"burst":0,"key":"remote_addr","policy":"redis-cluster","redis_cluster_nodes":["a:1","b:2"],"redis_cluster_name":"c"}}`})
	if err == nil || !strings.Contains(err.Error(), "not supported yet") {
		t.Errorf("redis-cluster: %v", err)
	}
}

// Loops taking from one bucket at once never let more than burst+1 through.
func TestConcurrentExact(t *testing.T) {
	ch := build(t, `{"limit-req":{"rate":1,"burst":99,"key":"remote_addr","nodelay":true}}`)
	const loops, each = 4, 60
	done := make(chan int)
	for range loops {
		go func() {
			r := plugintest.NewRequest(get, "10.0.0.1:5000")
			n := 0
			for range each {
				c := r.Reset(ch)
				c.Start = at(0)
				if !c.Request().Stopped() {
					n++
				}
			}
			done <- n
		}()
	}
	total := 0
	for range loops {
		total += <-done
	}
	if total != 100 {
		t.Errorf("%d passed, want 100", total)
	}
}
