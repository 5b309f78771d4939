package apibreaker_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/apibreaker"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

var t0 = time.Unix(1_800_000_000, 0)

func build(t testing.TB, conf string) *plugin.Chain {
	t.Helper()
	return plugintest.MustBuild(t, plugintest.Registry(t, apibreaker.Def), plugintest.Config{Route: `{"api-breaker":` + conf + `}`})
}

// call is one request at second sec to path: the breaker's answer
// ("break 502 <body> <headers>"), or the upstream's status after it
// answered with status ("up 500"). status 0: the upstream failed and the
// gateway answered 502.
func call(ch *plugin.Chain, sec int, path string, status int) string {
	r := plugintest.NewRequest("GET "+path+" HTTP/1.1\r\nHost: example.com\r\n\r\n", "10.0.0.1:5000")
	c := r.Reset(ch)
	c.Start = t0.Add(time.Duration(sec) * time.Second)
	if res := c.Request(); res.Stopped() {
		out := fmt.Sprintf("break %d", res.Status)
		if res.Body != nil {
			out += " " + string(res.Body)
		}
		if h := strings.TrimSpace(r.RespHeaders()); h != "" {
			out += " " + strings.ReplaceAll(h, "\r\n", ", ")
		}
		c.Log()
		return out
	}
	c.UpstreamStart = c.Start
	if status == 0 {
		c.Status = 502 // as the server sets it when the upstream failed
		c.Log()
		return "up failed"
	}
	r.Respond(fmt.Sprintf("HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", status))
	c.Log()
	return fmt.Sprint("up ", status)
}

type step struct {
	sec    int
	path   string
	status int
	want   string
}

func run(t *testing.T, ch *plugin.Chain, steps []step) {
	t.Helper()
	for i, s := range steps {
		p := s.path
		if p == "" {
			p = "/hello"
		}
		if got := call(ch, s.sec, p, s.status); got != s.want {
			t.Errorf("step %d (t=%ds %s, upstream %d): got %q, want %q", i, s.sec, p, s.status, got, s.want)
		}
	}
}

func TestBreaker(t *testing.T) {
	tests := []struct {
		name, conf string
		steps      []step
	}{
		{"trips on the third failure for 2 s", `{"break_response_code":502}`, []step{
			{0, "", 500, "up 500"},
			{0, "", 200, "up 200"}, // healthy: 1 in a row, not enough to forget
			{0, "", 500, "up 500"},
			{0, "", 500, "up 500"}, // third: trips
			{0, "", 200, "break 502"},
			{2, "", 200, "break 502"}, // APISIX: open while trip + 2 >= now
			{0, "/other", 200, "up 200"},
			{3, "", 500, "up 500"}, // half-open: failures 4, 5 do not trip
			{3, "", 500, "up 500"},
			{3, "", 500, "up 500"}, // 6th: trips for 2^2 s
			{7, "", 200, "break 502"},
			{8, "", 200, "up 200"},
		}},
		{"healthy answers in a row close it", `{"break_response_code":503,"healthy":{"successes":2}}`, []step{
			{0, "", 500, "up 500"},
			{0, "", 500, "up 500"},
			{0, "", 500, "up 500"},
			{3, "", 200, "up 200"},
			{3, "", 500, "up 500"}, // resets the run of healthy ones
			{3, "", 200, "up 200"},
			{3, "", 200, "up 200"}, // closed: counts start over
			{3, "", 500, "up 500"},
			{3, "", 500, "up 500"},
			{3, "", 200, "up 200"},
		}},
		{"max_breaker_sec caps the hold", `{"break_response_code":502,"max_breaker_sec":3,"unhealthy":{"failures":1}}`, []step{
			{0, "", 500, "up 500"},
			{0, "", 500, "break 502"},
			{3, "", 500, "up 500"}, // 2 failures: 2^2 s, capped at 3
			{3, "", 500, "break 502"},
			{6, "", 200, "break 502"},
			{7, "", 500, "up 500"},
			{10, "", 200, "break 502"},
			{11, "", 200, "up 200"},
		}},
		{"statuses", `{"break_response_code":502,"unhealthy":{"http_statuses":[500,503],"failures":2},"healthy":{"http_statuses":[200,201],"successes":1}}`, []step{
			{0, "", 502, "up 502"}, // not unhealthy
			{0, "", 0, "up failed"},
			{0, "", 503, "up 503"},
			{0, "", 404, "up 404"}, // neither
			{0, "", 500, "up 500"},
			{1, "", 500, "break 502"},
			{3, "", 201, "up 201"},
			{3, "", 500, "up 500"},
			{3, "", 200, "up 200"},
		}},
		{"an upstream that fails counts as 502", `{"break_response_code":504,"unhealthy":{"http_statuses":[502],"failures":2}}`, []step{
			{0, "", 0, "up failed"},
			{0, "", 0, "up failed"},
			{0, "", 200, "break 504"},
		}},
		{"body and headers", `{"break_response_code":599,"break_response_body":"down","break_response_headers":[{"key":"X-Client","value":"$remote_addr:$remote_port"},{"key":"X-Why","value":"breaker"}],"unhealthy":{"failures":1}}`, []step{
			{0, "", 500, "up 500"},
			{0, "", 500, "break 599 down X-Client: 10.0.0.1:5000, X-Why: breaker"},
		}},
		{"empty body", `{"break_response_code":502,"break_response_body":"","unhealthy":{"failures":1}}`, []step{
			{0, "", 500, "up 500"},
			{0, "", 500, "break 502 "},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, build(t, tt.conf), tt.steps) })
	}
}

// A request another plugin stopped before it went upstream says nothing
// about the upstream.
func TestNotUpstream(t *testing.T) {
	ch := build(t, `{"break_response_code":502,"unhealthy":{"http_statuses":[500,503],"failures":1}}`)
	r := plugintest.NewRequest("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n", "10.0.0.1:1")
	c := r.Reset(ch)
	c.Start = t0
	c.Request()
	c.Status = 503 // say a later plugin refused it
	c.Log()
	run(t, ch, []step{{0, "", 200, "up 200"}})
}

func TestStateSurvivesRebuilds(t *testing.T) {
	reg := plugintest.Registry(t, apibreaker.Def)
	conf := `{"api-breaker":{"break_response_code":502,"unhealthy":{"failures":1}}}`
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: conf})
	run(t, ch, []step{{0, "", 500, "up 500"}})
	serving := ch // holds the state meanwhile (Build.Keep holds it weakly)
	runtime.GC()
	ch = plugintest.MustBuild(t, reg, plugintest.Config{Route: conf, Service: `{}`})
	runtime.KeepAlive(serving)
	run(t, ch, []step{{1, "", 200, "break 502"}})
	ch = plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"api-breaker":{"break_response_code":503,"unhealthy":{"failures":1}}}`})
	run(t, ch, []step{{1, "", 200, "up 200"}})
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ conf, want string }{
		{`{}`, "missing property 'break_response_code'"},
		{`{"break_response_code":199}`, "/break_response_code: minimum"},
		{`{"break_response_code":502,"max_breaker_sec":2}`, "/max_breaker_sec: minimum"},
		{`{"break_response_code":502,"unhealthy":{"http_statuses":[404]}}`, "/unhealthy/http_statuses/0: minimum"},
		{`{"break_response_code":502,"healthy":{"http_statuses":[500]}}`, "/healthy/http_statuses/0: maximum"},
		{`{"break_response_code":502,"healthy":{"http_statuses":[200,200]}}`, "/healthy/http_statuses"},
		{`{"break_response_code":502,"unhealthy":{"failures":0}}`, "/unhealthy/failures: minimum"},
		{`{"break_response_code":502,"unhealthy":{"nope":0}}`, "additional properties 'nope' not allowed"},
		{`{"break_response_code":502,"break_response_headers":[{"key":"X","value":"y"}]}`, "only sent with a break_response_body"},
		{`{"break_response_code":502,"break_response_body":"b","break_response_headers":[{"key":"X Y","value":"y"}]}`, "is not a header name"},
		{`{"break_response_code":502,"break_response_body":"b","break_response_headers":[{"key":"X"}]}`, "missing property 'value'"},
	}
	reg := plugintest.Registry(t, apibreaker.Def)
	for _, tt := range tests {
		_, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"api-breaker":` + tt.conf + `}`})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\n\tgot %v\n\twant %q", tt.conf, err, tt.want)
		}
	}
}

// The example config of APISIX's api-breaker page (3.15): 500 or 503
// three times opens it, one 200 closes it.
func TestAPISIXDocExample(t *testing.T) {
	ch := build(t, `{"break_response_code":502,"unhealthy":{"http_statuses":[500,503],"failures":3},"healthy":{"http_statuses":[200],"successes":1}}`)
	run(t, ch, []step{
		{0, "", 500, "up 500"},
		{0, "", 503, "up 503"},
		{0, "", 500, "up 500"},
		{1, "", 200, "break 502"},
		{3, "", 200, "up 200"},
		{3, "", 500, "up 500"},
		{3, "", 200, "up 200"},
	})
}
