package faultinjection_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/faultinjection"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// tail is a plugin after fault-injection, in rewrite and in access, so the
// tests see where a pause resumes.
type tail struct{}

func (tail) Rewrite(c *plugin.Ctx) plugin.Result {
	if _, ok := c.Header("X-Deny"); ok {
		return plugin.Stop(401, nil)
	}
	return plugin.Continue
}

var tailDef = plugin.Def{Name: "tail", Priority: 2500, New: func(*plugin.Build, []byte) (any, error) { return tail{}, nil }}

func build(t testing.TB, conf string) *plugin.Chain {
	t.Helper()
	return plugintest.MustBuild(t, plugintest.Registry(t, faultinjection.Def, tailDef), plugintest.Config{Route: `{"tail":{},"fault-injection":` + conf + `}`})
}

// do runs a request and describes what happened: "pass", "wait 2s, pass",
// "abort 403 <body> [headers]".
func do(ch *plugin.Chain, target string, hdrs ...string) string {
	raw := "GET " + target + " HTTP/1.1\r\nHost: a\r\n"
	for _, h := range hdrs {
		raw += h + "\r\n"
	}
	r := plugintest.NewRequest(raw+"\r\n", "10.0.0.1:5000")
	c := r.Reset(ch)
	var out []string
	res := c.Request()
	for i := 0; res.Delay > 0 && i < 3; i++ {
		out = append(out, "wait "+res.Delay.String())
		res = c.Request()
	}
	switch {
	case !res.Stopped():
		out = append(out, "pass")
	case res.Body == nil:
		out = append(out, fmt.Sprintf("abort %d <nil>", res.Status))
	default:
		out = append(out, fmt.Sprintf("abort %d %q", res.Status, res.Body))
	}
	if h := r.RespHeaders(); h != "" {
		out = append(out, "["+strings.TrimSuffix(strings.ReplaceAll(h, "\r\n", "; "), "; ")+"]")
	}
	return strings.Join(out, ", ")
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name, conf string
		reqs       [][]string // target, headers...
		want       []string
	}{
		{"abort (APISIX doc example 1)", `{"abort":{"http_status":200,"body":"Fault Injection!"}}`,
			[][]string{{"/hello"}}, []string{`abort 200 "Fault Injection!"`}},
		{"abort without body: the server's default", `{"abort":{"http_status":503}}`,
			[][]string{{"/"}}, []string{"abort 503 <nil>"}},
		{"empty body", `{"abort":{"http_status":204,"body":""}}`,
			[][]string{{"/"}}, []string{`abort 204 ""`}},
		{"body and headers with variables, numbers as Lua prints them",
			`{"abort":{"http_status":418,"body":"client addr: $remote_addr\n","headers":{"X-Client":"$remote_addr:$remote_port","X-Int":1,"X-Float":1.5,"X-Big":1e20}}}`,
			[][]string{{"/"}}, []string{`abort 418 "client addr: 10.0.0.1\n", [X-Big: 1e+20; X-Client: 10.0.0.1:5000; X-Float: 1.5; X-Int: 1]`}},
		{"abort vars (APISIX doc example 4)", `{"abort":{"http_status":403,"body":"Fault Injection!\n","vars":[[["arg_name","==","jack"]]]}}`,
			[][]string{{"/hello?name=allen"}, {"/hello?name=jack"}},
			[]string{"pass", `abort 403 "Fault Injection!\n"`}},
		{"vars: AND within an expression, OR between them",
			`{"abort":{"http_status":403,"vars":[[["arg_name","==","jack"],["arg_age","==",18]],[["arg_name2","==","allen"]]]}}`,
			[][]string{{"/?name=jack"}, {"/?name=jack&age=18"}, {"/?name2=allen"}, {"/?age=18"}},
			[]string{"pass", "abort 403 <nil>", "abort 403 <nil>", "pass"}},
		{"vars: an expression in lua-resty-expr's logic form (OR)",
			`{"abort":{"http_status":403,"vars":[["OR",["arg_name","==","jack"],["arg_age","==","18"]]]}}`,
			[][]string{{"/?name=jack"}, {"/?age=18"}, {"/?name=allen"}},
			[]string{"abort 403 <nil>", "abort 403 <nil>", "pass"}},
		{"an empty vars list matches nothing", `{"abort":{"http_status":403,"vars":[]}}`,
			[][]string{{"/"}}, []string{"pass"}},
		{"percentage 0 and 100", `{"abort":{"http_status":403,"percentage":0},"delay":{"duration":1,"percentage":100}}`,
			[][]string{{"/"}}, []string{"wait 1s, pass"}},
		{"delay (APISIX doc example 2)", `{"delay":{"duration":3}}`,
			[][]string{{"/"}}, []string{"wait 3s, pass"}},
		{"delay of 0", `{"delay":{"duration":0}}`,
			[][]string{{"/"}}, []string{"pass"}},
		{"a fractional delay, then the next plugins run", `{"delay":{"duration":0.25}}`,
			[][]string{{"/", "X-Deny: 1"}}, []string{"wait 250ms, abort 401 <nil>"}},
		{"abort and delay with vars (APISIX doc example 3)",
			`{"abort":{"http_status":403,"body":"Fault Injection!\n","vars":[[["arg_name","==","jack"]]]},"delay":{"duration":2,"vars":[[["http_age","==","18"]]]}}`,
			[][]string{{"/hello"}, {"/hello?name=jack"}, {"/hello", "Age: 18"}, {"/hello?name=jack", "Age: 18"}},
			[]string{"pass", `abort 403 "Fault Injection!\n"`, "wait 2s, pass", `wait 2s, abort 403 "Fault Injection!\n"`}},
		{"delayed and aborted: the other rewrite hooks run between",
			`{"abort":{"http_status":403},"delay":{"duration":1}}`,
			[][]string{{"/"}, {"/", "X-Deny: 1"}},
			[]string{"wait 1s, abort 403 <nil>", "wait 1s, abort 401 <nil>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := build(t, tt.conf)
			for i, rq := range tt.reqs {
				if got := do(ch, rq[0], rq[1:]...); got != tt.want[i] {
					t.Errorf("%v:\n\tgot  %s\n\twant %s", rq, got, tt.want[i])
				}
			}
		})
	}
}

func TestPercentage(t *testing.T) {
	ch := build(t, `{"abort":{"http_status":403,"percentage":30}}`)
	n := 0
	for range 2000 {
		if strings.HasPrefix(do(ch, "/"), "abort") {
			n++
		}
	}
	// 600 expected; the bounds are 8 standard deviations (20.5) away.
	if n < 440 || n > 760 {
		t.Errorf("aborted %d of 2000 at 30%%", n)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ conf, want string }{
		{`{}`, "minProperties"},
		{`{"abort":{"body":"x"}}`, "missing property 'http_status'"},
		{`{"abort":{"http_status":199}}`, "/abort/http_status: minimum"},
		{`{"abort":{"http_status":403,"percentage":101}}`, "/abort/percentage: maximum"},
		{`{"abort":{"http_status":403,"headers":{}}}`, "/abort/headers: minProperties"},
		{`{"abort":{"http_status":403,"headers":{"a:b":"x"}}}`, "additional properties 'a:b' not allowed"},
		{`{"abort":{"http_status":403,"headers":{"a b":"x"}}}`, `abort.headers: "a b" is not a header name`},
		{`{"abort":{"http_status":403,"headers":{"X":true}}}`, "/abort/headers/X"},
		{`{"abort":{"http_status":403,"vars":[[["arg_a","~~~","1"]]]}}`, "abort.vars[0]"},
		{`{"delay":{}}`, "missing property 'duration'"},
		{`{"delay":{"duration":-1}}`, "/delay/duration: minimum"},
		{`{"delay":{"duration":1,"vars":[1]}}`, "/delay/vars/0"},
		{`{"delay":{"duration":1},"nope":1}`, "additional properties 'nope' not allowed"},
	}
	reg := plugintest.Registry(t, faultinjection.Def)
	for _, tt := range tests {
		_, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"fault-injection":` + tt.conf + `}`})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\n\tgot %v\n\twant %q", tt.conf, err, tt.want)
		}
	}
}
