package plugin_test

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/route"
)

func TestMoreVars(t *testing.T) {
	var c plugin.Ctx
	c.Reset(nil)
	c.Match = &route.Match{Params: []route.Param{
		{Key: "id", Value: []byte("123%20456")},
		{Key: "raw", Value: []byte("a%0D%0Ab%zz%4")},
	}}
	re := regexp.MustCompile(`^/(\w+)/(x)?(\w+)$`)
	src := []byte("/ab/cd")
	c.SetCaptures(src, re.FindSubmatchIndex(src))
	c.Node = netip.MustParseAddrPort("[::ffff:10.0.0.7]:8080")
	for name, want := range map[string]string{
		"uri_param_id":  "123 456",
		"uri_param_raw": "a%0D%0Ab%zz%4", // controls and bad escapes stay encoded
		"uri_param_no":  "<absent>",
		"0":             "/ab/cd",
		"1":             "ab",
		"2":             "<absent>", // the group did not take part
		"3":             "cd",
		"4":             "<absent>",
		"balancer_ip":   "10.0.0.7",
		"balancer_port": "8080",
		"upstream_addr": "10.0.0.7:8080",
	} {
		v := plugin.ParseVar(name)
		got, ok := c.Get(&v)
		if !ok {
			got = []byte("<absent>")
		}
		if string(got) != want {
			t.Errorf("$%s = %q, want %q", name, got, want)
		}
	}
	// A new request forgets the captures and the node.
	c.Reset(nil)
	for _, name := range []string{"1", "balancer_ip"} {
		v := plugin.ParseVar(name)
		if got, ok := c.Get(&v); ok {
			t.Errorf("after Reset: $%s = %q", name, got)
		}
	}
	tp, err := plugin.CompileTemplate("$uri_param_id|${1}|$balancer_port")
	if err != nil {
		t.Fatal(err)
	}
	c.Match.Params = []route.Param{{Key: "id", Value: []byte("x")}}
	c.SetCaptures(src, re.FindSubmatchIndex(src))
	if got := string(c.Append(nil, tp)); got != "x|ab|" {
		t.Errorf("template: %q", got)
	}
}

func TestRegexSub(t *testing.T) {
	for _, tt := range []struct{ re, repl, subject, want string }{
		{`^/test/(.*)/(.*)`, "/$1-$2", "/test/user/agent", "/user-agent"},
		{`^/theothers/*`, "/theothers", "/theothers/hello/world", "/theothershello/world"},
		{`b+`, "[$0]", "abbbc bb", "a[bbb]c bb"},
		{`^/(\w+)/(\w+)`, "/${1}_$2_$$", "/a/b/c", "/a_b_$/c"},
		{`^/(a)?(b)`, "<$1|$2>", "/b", "<|b>"},
		{`nomatch`, "x", "/a", "<no match>"},
	} {
		s, err := plugin.CompileRegexSub(tt.re, tt.repl)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.re, tt.repl, err)
		}
		out, idx := s.Append([]byte("pre:"), []byte(tt.subject))
		got := string(out)
		if idx == nil {
			got = "<no match>"
			if string(out) != "pre:" {
				t.Errorf("no match changed dst: %q", out)
			}
		} else {
			got = got[len("pre:"):]
		}
		if got != tt.want {
			t.Errorf("%s -> %s on %s: %q, want %q", tt.re, tt.repl, tt.subject, got, tt.want)
		}
	}
	for _, tt := range []struct{ re, repl string }{{`(`, "x"}, {`a`, "$1"}, {`a`, "$x"}, {`a`, "${1"}, {`a`, "${}"}, {`a`, "$"}} {
		if _, err := plugin.CompileRegexSub(tt.re, tt.repl); err == nil {
			t.Errorf("%s %s: no error", tt.re, tt.repl)
		}
	}
}

func TestRegexSubAll(t *testing.T) {
	for _, tt := range []struct{ re, repl, opts, subject, want string }{
		{`X-Amzn-Trace-Id`, "X-Amzn-Trace-Id-Replace", "jo", `{"X-Amzn-Trace-Id": "1", "b": "X-Amzn-Trace-Id"}`, `{"X-Amzn-Trace-Id-Replace": "1", "b": "X-Amzn-Trace-Id-Replace"}`},
		{`(\w)(\d)`, "$2$1", "", "a1 b2 cc", "1a 2b cc"},
		{`x*`, "-", "", "abc", "-a-b-c-"},
		{`hello`, "bye", "i", "Hello HELLO", "bye bye"},
		{`^b`, "B", "m", "a\nb\nb", "a\nB\nB"},
		{`a.b`, "X", "s", "a\nb", "X"},
		{`b`, "X", "a", "bab", "Xab"},
	} {
		s, err := plugin.CompileRegexSubOpts(tt.re, tt.repl, tt.opts)
		if err != nil {
			t.Fatalf("%s: %v", tt.re, err)
		}
		if got, _ := s.AppendAll(nil, []byte(tt.subject)); string(got) != tt.want {
			t.Errorf("%s %s /%s on %q: %q, want %q", tt.re, tt.repl, tt.opts, tt.subject, got, tt.want)
		}
	}
	if _, err := plugin.CompileRegexSubOpts("a", "b", "x"); err == nil || !strings.Contains(err.Error(), `option 'x' is not supported`) {
		t.Errorf("option x: %v", err)
	}
}
