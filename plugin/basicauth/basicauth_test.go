package basicauth_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/basicauth"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

var consumers = map[string]string{
	"johndoe": `{"basic-auth":{"username":"johndoe","password":"john-key"}}`,
	"jane":    `{"basic-auth":{"username":"jane","password":"pa:ss"}}`,
}

func basic(userpass string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(userpass)) + "\r\n"
}

func head(fields ...string) string {
	return "GET /anything HTTP/1.1\r\nHost: example.com\r\n" + strings.Join(fields, "") + "\r\n"
}

// check runs one request through a basic-auth route: the stop's status,
// body and response fields, or the head the upstream receives.
type check struct {
	name   string
	route  string
	req    string
	status int
	body   string
	// on a stop: in the response fields the plugin set; on a pass: in the
	// upstream head
	want, not []string
}

func run(t *testing.T, cfg plugintest.Config, tests []check) {
	t.Helper()
	reg := plugintest.Registry(t, basicauth.Def, nopDef)
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
	missing   = `{"message":"Missing authorization in request"}`
	bad       = `{"message":"Invalid authorization in request"}`
	invalid   = `{"message":"Invalid user authorization"}`
	challenge = "WWW-Authenticate: Basic realm=\"basic\"\r\n"
)

func TestBasicAuth(t *testing.T) {
	r := `{"basic-auth":{}}`
	run(t, plugintest.Config{Consumers: consumers}, []check{
		{name: "valid", route: r, req: head(basic("johndoe:john-key")),
			want: []string{"Authorization: Basic am9obmRvZTpqb2huLWtleQ==\r\n", "X-Consumer-Username: johndoe\r\n"}},
		{name: "scheme any case, no padding", route: r, req: head("authorization: bAsIc am9obmRvZTpqb2huLWtleQ\r\n"),
			want: []string{"X-Consumer-Username: johndoe\r\n"}},
		{name: "scheme found anywhere, as APISIX's unanchored match", route: r, req: head("Authorization: xbasic\tam9obmRvZTpqb2huLWtleQ==\r\n"),
			want: []string{"X-Consumer-Username: johndoe\r\n"}},
		{name: "white space removed from both parts", route: r, req: head(basic(" john doe : john-\tkey ")),
			want: []string{"X-Consumer-Username: johndoe\r\n"}},
		{name: "password with a colon", route: r, req: head(basic("jane:pa:ss")),
			want: []string{"X-Consumer-Username: jane\r\n"}},
		{name: "missing", route: r, req: head(), status: 401, body: missing, want: []string{challenge}},
		{name: "wrong password", route: r, req: head(basic("johndoe:invalid-password")), status: 401, body: invalid, want: []string{challenge}},
		{name: "password prefix", route: r, req: head(basic("johndoe:john-ke")), status: 401, body: invalid},
		{name: "colon cut is the first", route: r, req: head(basic("jane:pa")), status: 401, body: invalid},
		{name: "unknown user", route: r, req: head(basic("nobody:john-key")), status: 401, body: invalid, want: []string{challenge}},
		{name: "other scheme", route: r, req: head("Authorization: Bearer abc\r\n"), status: 401, body: bad, want: []string{challenge}},
		{name: "no credentials after the scheme", route: r, req: head("Authorization: Basic \r\n"), status: 401, body: bad},
		{name: "not base64", route: r, req: head("Authorization: Basic !!!!\r\n"), status: 401, body: bad},
		{name: "bad base64 length", route: r, req: head("Authorization: Basic abcde\r\n"), status: 401, body: bad},
		{name: "no colon", route: r, req: head(basic("johndoe")), status: 401, body: bad},
		{name: "custom realm", route: `{"basic-auth":{"realm":"apisix"}}`, req: head(), status: 401, body: missing,
			want: []string{"WWW-Authenticate: Basic realm=\"apisix\"\r\n"}},
		{name: "hide", route: `{"basic-auth":{"hide_credentials":true}}`, req: head(basic("johndoe:john-key"), "Accept: */*\r\n"),
			want: []string{"Accept: */*\r\n", "X-Consumer-Username: johndoe\r\n"}, not: []string{"Authorization"}},
	})
}

func TestAnonymousConsumer(t *testing.T) {
	cfg := plugintest.Config{Consumers: map[string]string{
		"johndoe":   `{"basic-auth":{"username":"johndoe","password":"john-key"}}`,
		"anonymous": `{}`,
	}}
	run(t, cfg, []check{
		{name: "valid", route: `{"basic-auth":{"anonymous_consumer":"anonymous"}}`, req: head(basic("johndoe:john-key")),
			want: []string{"X-Consumer-Username: johndoe\r\n"}},
		{name: "none", route: `{"basic-auth":{"anonymous_consumer":"anonymous"}}`, req: head(),
			want: []string{"X-Consumer-Username: anonymous\r\n"}},
		{name: "wrong, hidden", route: `{"basic-auth":{"anonymous_consumer":"anonymous","hide_credentials":true}}`, req: head(basic("johndoe:x")),
			want: []string{"X-Consumer-Username: anonymous\r\n"}, not: []string{"Authorization"}},
		{name: "no such consumer", route: `{"basic-auth":{"anonymous_consumer":"ghost"}}`, req: head(),
			status: 401, body: invalid, want: []string{challenge}},
	})
}

func TestSecretReference(t *testing.T) {
	t.Setenv("SLUICE_TEST_PASSWORD", "from-env")
	cfg := plugintest.Config{Consumers: map[string]string{"a": `{"basic-auth":{"username":"a","password":"$env://SLUICE_TEST_PASSWORD"}}`}}
	run(t, cfg, []check{
		{name: "env", route: `{"basic-auth":{}}`, req: head(basic("a:from-env")), want: []string{"X-Consumer-Username: a\r\n"}},
		{name: "not the reference", route: `{"basic-auth":{}}`, req: head(basic("a:$env://SLUICE_TEST_PASSWORD")), status: 401, body: invalid},
	})
}

func TestBuildErrors(t *testing.T) {
	reg := plugintest.Registry(t, basicauth.Def)
	tests := []struct {
		name string
		cfg  plugintest.Config
		want string
	}{
		{"unknown field", plugintest.Config{Route: `{"basic-auth":{"realm":"x","y":1}}`}, "additional properties 'y' not allowed"},
		{"empty realm", plugintest.Config{Route: `{"basic-auth":{"realm":""}}`}, "/realm"},
		{"credential without password", plugintest.Config{Consumers: map[string]string{"jack": `{"basic-auth":{"username":"jack"}}`}},
			"consumers/jack: plugins.basic-auth: /: missing property 'password'"},
		{"duplicate username", plugintest.Config{Route: `{"basic-auth":{}}`, Consumers: map[string]string{
			"a": `{"basic-auth":{"username":"u","password":"1"}}`, "b": `{"basic-auth":{"username":"u","password":"2"}}`}},
			"consumers/b: plugins.basic-auth.username: consumer a has the same username"},
		{"secret manager", plugintest.Config{Route: `{"basic-auth":{}}`, Consumers: map[string]string{
			"a": `{"basic-auth":{"username":"u","password":"$secret://vault/1/a/pw"}}`}}, "consumers/a: plugins.basic-auth.password: $secret://"},
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
