package keyauth_test

import (
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/keyauth"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/proxyrewrite"
)

var consumers = map[string]string{
	"jack": `{"key-auth":{"key":"jack-key"}}`,
	"jane": `{"key-auth":{"key":"jane key/+"}}`,
}

func head(target string, fields ...string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: example.com\r\n" + strings.Join(fields, "") + "\r\n"
}

// check runs one request through a key-auth route and compares what
// happened: the stop's status and body with the WWW-Authenticate header,
// or the head the upstream receives.
type check struct {
	name   string
	route  string
	req    string
	status int
	body   string
	// on a stop: the response fields the plugin set
	// on a pass: substrings the upstream head must and must not have
	want, not []string
}

func run(t *testing.T, cfg plugintest.Config, tests []check) {
	t.Helper()
	reg := plugintest.Registry(t, keyauth.Def, nopDef)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cfg
			cfg.Route = tt.route
			ch := plugintest.MustBuild(t, reg, cfg)
			r := plugintest.NewRequest(tt.req, "127.0.0.1:5000")
			res := r.Run(ch)
			if res.Status != tt.status {
				t.Fatalf("status %d %s, want %d", res.Status, res.Body, tt.status)
			}
			got := r.Upstream()
			if res.Stopped() {
				if string(res.Body) != tt.body {
					t.Errorf("body %s, want %s", res.Body, tt.body)
				}
				got = r.RespHeaders()
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in\n%s", w, got)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(got, w) {
					t.Errorf("unexpected %q in\n%s", w, got)
				}
			}
		})
	}
}

const (
	missing   = `{"message":"Missing API key in request"}`
	invalid   = `{"message":"Invalid API key in request"}`
	challenge = "WWW-Authenticate: apikey realm=\"key\"\r\n"
)

func TestKeyAuth(t *testing.T) {
	run(t, plugintest.Config{Consumers: consumers}, []check{
		{name: "header", route: `{"key-auth":{}}`, req: head("/a", "apikey: jack-key\r\n"),
			want: []string{"GET /a HTTP/1.1\r\n", "apikey: jack-key\r\n", "X-Consumer-Username: jack\r\n"}},
		{name: "header name any case", route: `{"key-auth":{}}`, req: head("/a", "APIKEY: jack-key\r\n"),
			want: []string{"X-Consumer-Username: jack\r\n"}},
		{name: "query", route: `{"key-auth":{}}`, req: head("/a?x=1&apikey=jack-key"),
			want: []string{"GET /a?x=1&apikey=jack-key HTTP/1.1", "X-Consumer-Username: jack\r\n"}},
		{name: "query value decoded", route: `{"key-auth":{}}`, req: head("/a?apikey=jane+key%2F%2b"),
			want: []string{"X-Consumer-Username: jane\r\n"}},
		{name: "query name decoded", route: `{"key-auth":{}}`, req: head("/a?api%6Bey=jack-key"),
			want: []string{"X-Consumer-Username: jack\r\n"}},
		{name: "missing", route: `{"key-auth":{}}`, req: head("/a"),
			status: 401, body: missing, want: []string{challenge}},
		{name: "query name is case-sensitive", route: `{"key-auth":{}}`, req: head("/a?APIKEY=jack-key"),
			status: 401, body: missing},
		{name: "invalid header", route: `{"key-auth":{}}`, req: head("/a", "apikey: nope\r\n"),
			status: 401, body: invalid, want: []string{challenge}},
		{name: "empty header", route: `{"key-auth":{}}`, req: head("/a", "apikey:\r\n"),
			status: 401, body: invalid},
		{name: "invalid query", route: `{"key-auth":{}}`, req: head("/a?apikey=nope"),
			status: 401, body: invalid},
		{name: "repeated argument is not one key", route: `{"key-auth":{}}`, req: head("/a?apikey=jack-key&apikey=jack-key"),
			status: 401, body: invalid},
		{name: "argument without a value", route: `{"key-auth":{}}`, req: head("/a?apikey"),
			status: 401, body: invalid},
		{name: "header wins over query", route: `{"key-auth":{}}`, req: head("/a?apikey=jack-key", "apikey: nope\r\n"),
			status: 401, body: invalid},
		{name: "custom header", route: `{"key-auth":{"header":"X-Key"}}`, req: head("/a", "x-key: jack-key\r\n"),
			want: []string{"X-Consumer-Username: jack\r\n"}},
		{name: "custom realm", route: `{"key-auth":{"realm":"my realm"}}`, req: head("/a"),
			status: 401, body: missing, want: []string{"WWW-Authenticate: apikey realm=\"my realm\"\r\n"}},
		{name: "hide header", route: `{"key-auth":{"hide_credentials":true}}`, req: head("/a?apikey=x", "apikey: jack-key\r\nAccept: */*\r\n"),
			want: []string{"GET /a?apikey=x HTTP/1.1\r\n", "Accept: */*\r\n", "X-Consumer-Username: jack\r\n"}, not: []string{"apikey: "}},
		{name: "hide query", route: `{"key-auth":{"hide_credentials":true}}`, req: head("/a/b?x=1&apikey=jack-key&y=%20"),
			want: []string{"GET /a/b?x=1&y=%20 HTTP/1.1\r\n"}, not: []string{"jack-key"}},
		{name: "hide the only argument", route: `{"key-auth":{"hide_credentials":true,"query":"k"}}`, req: head("/a?k=jack-key"),
			want: []string{"GET /a HTTP/1.1\r\n"}},
		{name: "hide query in absolute form", route: `{"key-auth":{"hide_credentials":true}}`, req: head("http://example.com/a?apikey=jack-key&z"),
			want: []string{"GET /a?z HTTP/1.1\r\n"}},
		{name: "forged consumer headers replaced", route: `{"key-auth":{}}`,
			req:  head("/a", "apikey: jack-key\r\nX-Consumer-Username: admin\r\nX-Consumer-Custom-ID: 1\r\nX-Credential-Identifier: c\r\n"),
			want: []string{"X-Consumer-Username: jack\r\n"}, not: []string{"admin", "Custom-ID", "Credential-Identifier"}},
	})
}

func TestAnonymousConsumer(t *testing.T) {
	cfg := plugintest.Config{Consumers: map[string]string{
		"jack":      `{"key-auth":{"key":"jack-key"}}`,
		"anonymous": `{}`,
	}}
	run(t, cfg, []check{
		{name: "key", route: `{"key-auth":{"anonymous_consumer":"anonymous"}}`, req: head("/a", "apikey: jack-key\r\n"),
			want: []string{"X-Consumer-Username: jack\r\n"}},
		{name: "no key", route: `{"key-auth":{"anonymous_consumer":"anonymous"}}`, req: head("/a"),
			want: []string{"X-Consumer-Username: anonymous\r\n"}},
		{name: "bad key", route: `{"key-auth":{"anonymous_consumer":"anonymous"}}`, req: head("/a?apikey=x", "apikey: nope\r\n"),
			want: []string{"X-Consumer-Username: anonymous\r\n", "apikey: nope", "GET /a?apikey=x "}},
		{name: "bad key hidden in both places", route: `{"key-auth":{"anonymous_consumer":"anonymous","hide_credentials":true}}`,
			req: head("/a?apikey=x&b=2", "apikey: nope\r\n"), want: []string{"X-Consumer-Username: anonymous\r\n", "GET /a?b=2 "}, not: []string{"nope"}},
		{name: "no such consumer", route: `{"key-auth":{"anonymous_consumer":"ghost"}}`, req: head("/a"),
			status: 401, body: `{"message":"Invalid user authorization"}`, want: []string{challenge}},
	})
}

func TestConsumerCustomID(t *testing.T) {
	cfg := plugintest.Config{Consumers: consumers, Labels: map[string]map[string]string{"jack": {"custom_id": "495aec6a"}}}
	run(t, cfg, []check{
		{name: "custom id", route: `{"key-auth":{}}`, req: head("/a", "apikey: jack-key\r\nX-Consumer-Custom-ID: forged\r\n"),
			want: []string{"X-Consumer-Custom-ID: 495aec6a\r\n"}, not: []string{"forged"}},
	})
}

func TestSecretReference(t *testing.T) {
	t.Setenv("SLUICE_TEST_KEY", "from-env")
	t.Setenv("SLUICE_TEST_JSON", `{"k":"from-json"}`)
	cfg := plugintest.Config{Consumers: map[string]string{
		"a": `{"key-auth":{"key":"$env://SLUICE_TEST_KEY"}}`,
		"b": `{"key-auth":{"key":"$ENV://SLUICE_TEST_JSON/k"}}`,
	}}
	run(t, cfg, []check{
		{name: "env", route: `{"key-auth":{}}`, req: head("/a", "apikey: from-env\r\n"), want: []string{"X-Consumer-Username: a\r\n"}},
		{name: "env json", route: `{"key-auth":{}}`, req: head("/a", "apikey: from-json\r\n"), want: []string{"X-Consumer-Username: b\r\n"}},
		{name: "not the reference itself", route: `{"key-auth":{}}`, req: head("/a", "apikey: $env://SLUICE_TEST_KEY\r\n"), status: 401, body: invalid},
	})
}

func TestBuildErrors(t *testing.T) {
	t.Setenv("SLUICE_TEST_DUP", "k")
	reg := plugintest.Registry(t, keyauth.Def)
	tests := []struct {
		name string
		cfg  plugintest.Config
		want string
	}{
		{"unknown field", plugintest.Config{Route: `{"key-auth":{"keys":1}}`}, "additional properties 'keys' not allowed"},
		{"realm with a quote", plugintest.Config{Route: `{"key-auth":{"realm":"a\"b"}}`}, "/realm"},
		{"credential without key", plugintest.Config{Consumers: map[string]string{"jack": `{"key-auth":{}}`}}, "consumers/jack: plugins.key-auth: /: missing property 'key'"},
		{"duplicate key", plugintest.Config{Route: `{"key-auth":{}}`, Consumers: map[string]string{"a": `{"key-auth":{"key":"k"}}`, "b": `{"key-auth":{"key":"k"}}`}},
			"consumers/b: plugins.key-auth.key: consumer a has the same key"},
		// The consumers alone, as the Admin API checks a consumer's write.
		{"duplicate key, no route", plugintest.Config{Consumers: map[string]string{"a": `{"key-auth":{"key":"k"}}`, "b": `{"key-auth":{"key":"k"}}`}},
			"consumers/b: plugins.key-auth.key: consumer a has the same key"},
		{"duplicate key through a secret", plugintest.Config{Consumers: map[string]string{"a": `{"key-auth":{"key":"$env://SLUICE_TEST_DUP"}}`, "b": `{"key-auth":{"key":"k"}}`}},
			"consumers/b: plugins.key-auth.key: consumer a has the same key"},
		{"unset env", plugintest.Config{Route: `{"key-auth":{}}`, Consumers: map[string]string{"a": `{"key-auth":{"key":"$env://SLUICE_TEST_UNSET_VAR"}}`}},
			`consumers/a: plugins.key-auth.key: $env://SLUICE_TEST_UNSET_VAR: environment variable "SLUICE_TEST_UNSET_VAR" is not set`},
		{"secret manager", plugintest.Config{Route: `{"key-auth":{}}`, Consumers: map[string]string{"a": `{"key-auth":{"key":"$secret://vault/1/jack/key"}}`}},
			"secret manager references are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := plugintest.Build(t, reg, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// nop stands in for plugins a doc example configures on a consumer
// (limit-count): its config is accepted as it is.
var nopDef = plugin.Def{Name: "limit-count", Priority: 1002, New: func(*plugin.Build, []byte) (any, error) { return nop{}, nil }}

type nop struct{}

func (nop) Access(*plugin.Ctx) plugin.Result { return plugin.Continue }

// A hidden query key stays hidden when proxy-rewrite (later in the rewrite
// phase) builds a new target from the query, and key-auth keeps the target
// a global rule's proxy-rewrite set before it.
func TestHiddenQueryWithProxyRewrite(t *testing.T) {
	reg := plugintest.Registry(t, keyauth.Def, proxyrewrite.Def)
	for _, tt := range []struct {
		name string
		cfg  plugintest.Config
		want string
	}{
		{"route", plugintest.Config{Route: `{"key-auth":{"hide_credentials":true},"proxy-rewrite":{"uri":"/new"}}`, Consumers: consumers},
			"GET /new?x=1&y=2 HTTP/1.1\r\n"},
		{"global rule first", plugintest.Config{Global: []string{`{"proxy-rewrite":{"uri":"/global"}}`}, Route: `{"key-auth":{"hide_credentials":true}}`, Consumers: consumers},
			"GET /global?x=1&y=2 HTTP/1.1\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch := plugintest.MustBuild(t, reg, tt.cfg)
			r := plugintest.NewRequest(head("/a?x=1&apikey=jack-key&y=2"), "127.0.0.1:5000")
			if res := r.Run(ch); res.Stopped() {
				t.Fatalf("stopped %d %s", res.Status, res.Body)
			}
			if got := r.Upstream(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("upstream head %q, want it to start %q", got, tt.want)
			}
		})
	}
}
