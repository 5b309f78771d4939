package jwtauth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin/jwtauth"
	"github.com/sluice-gateway/sluice/plugin/limitcount"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// APISIX's documented examples for jwt-auth (docs/en/latest/plugins/
// jwt-auth.md), one test each: the configs as the doc writes them (a
// consumer's credential is written on the consumer, as sluice has no
// credential resources), and the doc's own tokens where it gives them.

const (
	docJack = `{"jwt-auth": {"key": "jack-key", "secret": "jack-hs256-secret-that-is-very-long"}}`
	// The doc's token for jack: HS256, {"key":"jack-key","nbf":1729132271}.
	docToken = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJrZXkiOiJqYWNrLWtleSIsIm5iZiI6MTcyOTEzMjI3MX0.UEPXy5jpid624T1XpfjM0PLY73LZPjV3Qt8yZ92kVuU"
	// The doc's "invalid token".
	docBadToken = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MjY2NDk2NDAsImtleSI6ImphY2sta2V5In0.kdhumNWrZFxjU_random_random"
)

// "Use JWT for Consumer Authentication".
func TestDocConsumerAuthentication(t *testing.T) {
	run(t, plugintest.Config{Consumers: map[string]string{"jack": docJack}}, []check{
		{name: "doc token", route: `{"jwt-auth": {}}`, req: head("/headers", "Authorization: "+docToken+"\r\n"),
			want: []string{"X-Consumer-Username: jack\r\n"}},
		{name: "doc invalid token", route: `{"jwt-auth": {}}`, req: head("/headers", "Authorization: "+docBadToken+"\r\n"),
			status: 401, body: failed},
	})
}

// "Carry JWT in Request Header, Query String, or Cookie".
func TestDocHeaderQueryCookie(t *testing.T) {
	route := `{"jwt-auth": {"header": "jwt-auth-header", "query": "jwt-query", "cookie": "jwt-cookie"}}`
	run(t, plugintest.Config{Consumers: map[string]string{"jack": docJack}}, []check{
		{name: "header", route: route, req: head("/get", "jwt-auth-header: "+docToken+"\r\n"), want: []string{"X-Consumer-Username: jack\r\n"}},
		{name: "query", route: route, req: head("/get?jwt-query=" + docToken), want: []string{"X-Consumer-Username: jack\r\n"}},
		{name: "cookie", route: route, req: head("/get", "Cookie: jwt-cookie="+docToken+"\r\n"), want: []string{"X-Consumer-Username: jack\r\n"}},
	})
}

// "Manage Secrets in Environment Variables".
func TestDocEnvSecret(t *testing.T) {
	t.Setenv("JACK_JWT_SECRET", "jack-hs256-secret-that-is-very-long")
	cfg := plugintest.Config{Consumers: map[string]string{"jack": `{"jwt-auth": {"key": "jack-key", "secret": "$env://JACK_JWT_SECRET"}}`}}
	run(t, cfg, []check{
		{name: "doc token", route: `{"jwt-auth": {}}`, req: head("/get", "Authorization: "+docToken+"\r\n"), want: []string{"X-Consumer-Username: jack\r\n"}},
	})
}

// "Manage Secrets in Secret Manager" needs a secret manager (Vault),
// which sluice does not have (nor its /secrets resources): the credential
// is refused with that reason. The consumer alone is refused, with no
// route using jwt-auth, so the Admin API refuses the consumer's write (it
// compiles the consumer, not the routes).
func TestDocSecretManager(t *testing.T) {
	reg := plugintest.Registry(t, jwtauth.Def)
	_, err := plugintest.Build(t, reg, plugintest.Config{Consumers: map[string]string{
		"jack": `{"jwt-auth": {"key": "jwt-vault-key", "secret": "$secret://vault/jwt/jack/jwt-secret"}}`,
	}})
	const want = "consumers/jack: plugins.jwt-auth.secret: $secret://vault/jwt/jack/jwt-secret: secret manager references are not supported"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
}

// "Sign JWT with RS256 Algorithm": the doc's public key and its token.
func TestDocRS256(t *testing.T) {
	const docPublicKey = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAoTxe7ZPycrEP0SK4OBA2\n0OUQsDN9gSFSHVvx/t++nZNrFxzZnV6q6/TRsihNXUIgwaOu5icFlIcxPL9Mf9UJ\na5/XCQExp1TxpuSmjkhIFAJ/x5zXrC8SGTztP3SjkhYnQO9PKVXI6ljwgakVCfpl\numuTYqI+ev7e45NdK8gJoJxPp8bPMdf8/nHfLXZuqhO/btrDg1x+j7frDNrEw+6B\nCK2SsuypmYN+LwHfaH4Of7MQFk3LNIxyBz0mdbsKJBzp360rbWnQeauWtDymZxLT\nATRNBVyl3nCNsURRTkc7eyknLaDt2N5xTIoUGHTUFYSdE68QWmukYMVGcEHEEPkp\naQIDAQAB\n-----END PUBLIC KEY-----"
	const docRS256Token = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJrZXkiOiJqYWNrLWtleSIsIm5iZiI6MTcyOTEzMjI3MX0.K-I13em84kAcyH1jfIJl7ls_4jlwg1GzEzo5_xrDu-3wt3Xa3irS6naUsWpxX-a-hmcZZxRa9zqunqQjUP4kvn5e3xg2f_KyCR-_ZbwqYEPk3bXeFV1l4iypv6z5L7W1Niharun-dpMU03b1Tz64vhFx6UwxNL5UIZ7bunDAo_BXZ7Xe8rFhNHvIHyBFsDEXIBgx8lNYMq8QJk3iKxZhZZ5Om7lgYjOOKRgew4WkhBAY0v1AkO77nTlvSK0OEeeiwhkROyntggyx-S-U222ykMQ6mBLxkP4Cq5qHwXD8AUcLk5mhEij-3QhboYnt7yhKeZ3wDSpcjDvvL2aasC25ng"
	cfg := plugintest.Config{Consumers: map[string]string{"jack": `{"jwt-auth": {"key": "jack-key", "algorithm": "RS256", "public_key": "` + jsonEscape(docPublicKey) + `"}}`}}
	run(t, cfg, []check{
		{name: "doc token", route: `{"jwt-auth": {}}`, req: head("/headers", "Authorization: "+docRS256Token+"\r\n"),
			want: []string{"X-Consumer-Username: jack\r\n"}},
		{name: "doc token forged", route: `{"jwt-auth": {}}`, req: head("/headers", "Authorization: "+forge(docRS256Token)+"\r\n"),
			status: 401, body: failed},
		{name: "HS256 keyed with the doc's public key", route: `{"jwt-auth": {}}`,
			req: head("/headers", bearer(sign("HS256", []byte(docPublicKey), `{"key": "jack-key"}`))), status: 401, body: failed},
	})
}

// "Add Consumer Custom ID to Header".
func TestDocCustomID(t *testing.T) {
	cfg := plugintest.Config{Consumers: map[string]string{"jack": docJack}, Labels: map[string]map[string]string{"jack": {"custom_id": "495aec6a"}}}
	run(t, cfg, []check{
		{name: "headers", route: `{"jwt-auth": {}}`, req: head("/anything", "Authorization: "+docToken+"\r\n"),
			want: []string{"X-Consumer-Username: jack\r\n", "X-Consumer-Custom-ID: 495aec6a\r\n"}},
	})
}

// "Rate Limit with Anonymous Consumer", with the real limit-count on the
// consumers: of five requests each, jack gets 3 through and 2 answered
// 429, anonymous (no credentials) 1 and 4.
func TestDocAnonymousConsumer(t *testing.T) {
	reg := plugintest.Registry(t, jwtauth.Def, limitcount.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{
		Route: `{"jwt-auth": {"anonymous_consumer": "anonymous"}}`,
		Consumers: map[string]string{
			"jack": `{"limit-count": {"count": 3, "time_window": 30, "rejected_code": 429},
			          "jwt-auth": {"key": "jack-key", "secret": "jack-hs256-secret-that-is-very-long"}}`,
			"anonymous": `{"limit-count": {"count": 1, "time_window": 30, "rejected_code": 429}}`,
		},
	})
	// One instant for every request: the 30 s window cannot turn mid-test.
	now := time.Now()
	for _, tt := range []struct {
		name, req     string
		ok, throttled int
	}{
		{"jack", head("/anything", "Authorization: "+docToken+"\r\n"), 3, 2},
		{"anonymous", head("/anything"), 1, 4},
	} {
		ok, throttled := 0, 0
		for range 5 {
			r := plugintest.NewRequest(tt.req, "127.0.0.1:5000")
			c := r.Reset(ch)
			c.Start = now
			switch res := c.Request(); res.Status {
			case 0:
				ok++
			case 429:
				throttled++
			default:
				t.Fatalf("%s: %d %s", tt.name, res.Status, res.Body)
			}
		}
		if ok != tt.ok || throttled != tt.throttled {
			t.Errorf("%s: 200: %d, 429: %d; the doc shows 200: %d, 429: %d", tt.name, ok, throttled, tt.ok, tt.throttled)
		}
	}
}

func jsonEscape(s string) string {
	out := ""
	for _, r := range s {
		if r == '\n' {
			out += `\n`
		} else {
			out += string(r)
		}
	}
	return out
}
