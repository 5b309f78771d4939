package jwtauth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/jwtauth"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// Keys made once per test binary.
var keys = sync.OnceValue(func() (k struct {
	rsa              *rsa.PrivateKey
	p256, p384, p521 *ecdsa.PrivateKey
	ed               ed25519.PrivateKey
}) {
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	k.p256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k.p384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	k.p521, _ = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	return k
})

func pubPEM(pub any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

var hashOf = map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}

// sign makes a compact JWS of claims with header {"alg":alg,"typ":"JWT"},
// signed by key: a []byte secret for HS*, a private key otherwise. This is
// an independent signer (the standard library's), not the plugin's code.
func sign(alg string, key any, claims string) string {
	hdr, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	in := b64(hdr) + "." + b64([]byte(claims))
	return in + "." + b64(signature(alg, key, []byte(in)))
}

func signature(alg string, key any, in []byte) []byte {
	if alg == "EdDSA" {
		return ed25519.Sign(key.(ed25519.PrivateKey), in)
	}
	h := hashOf[alg[2:]]
	d := h.New()
	d.Write(in)
	sum := d.Sum(nil)
	switch alg[:2] {
	case "HS":
		m := hmac.New(h.New, key.([]byte))
		m.Write(in)
		return m.Sum(nil)
	case "RS":
		s, err := rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), h, sum)
		if err != nil {
			panic(err)
		}
		return s
	case "PS":
		s, err := rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), h, sum, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			panic(err)
		}
		return s
	case "ES":
		k := key.(*ecdsa.PrivateKey)
		r, s, err := ecdsa.Sign(rand.Reader, k, sum)
		if err != nil {
			panic(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	}
	panic(alg)
}

func now() int64 { return time.Now().Unix() }

// claims renders a payload with key and the given extra members.
func claims(key string, extra ...string) string {
	m := `{"key":` + strconv.Quote(key)
	for _, e := range extra {
		m += "," + e
	}
	return m + "}"
}

func exp(d int64) string { return `"exp":` + strconv.FormatInt(now()+d, 10) }
func nbf(d int64) string { return `"nbf":` + strconv.FormatInt(now()+d, 10) }

// consumerConfigs: one consumer per algorithm, key "<alg>-key".
func consumerConfigs() map[string]string {
	k := keys()
	js := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	m := map[string]string{
		"hs256": `{"jwt-auth":{"key":"HS256-key","secret":"hs256-secret"}}`,
		"hs384": `{"jwt-auth":{"key":"HS384-key","secret":"hs384-secret","algorithm":"HS384"}}`,
		"hs512": `{"jwt-auth":{"key":"HS512-key","secret":"hs512-secret","algorithm":"HS512"}}`,
		"b64":   `{"jwt-auth":{"key":"b64-key","secret":"` + base64.StdEncoding.EncodeToString([]byte("\x00\xffbinary")) + `","base64_secret":true}}`,
		"grace": `{"jwt-auth":{"key":"grace-key","secret":"s","lifetime_grace_period":60}}`,
		"eddsa": `{"jwt-auth":{"key":"EdDSA-key","algorithm":"EdDSA","public_key":` + js(pubPEM(k.ed.Public())) + `}}`,
	}
	for _, a := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} {
		m[strings.ToLower(a)] = `{"jwt-auth":{"key":"` + a + `-key","algorithm":"` + a + `","public_key":` + js(pubPEM(&k.rsa.PublicKey)) + `}}`
	}
	for a, pk := range map[string]*ecdsa.PrivateKey{"ES256": k.p256, "ES384": k.p384, "ES512": k.p521} {
		m[strings.ToLower(a)] = `{"jwt-auth":{"key":"` + a + `-key","algorithm":"` + a + `","public_key":` + js(pubPEM(&pk.PublicKey)) + `}}`
	}
	return m
}

// signer is the private key (or secret) of each consumer's algorithm.
func signer(alg string) any {
	k := keys()
	switch alg {
	case "HS256", "HS384", "HS512":
		return []byte(strings.ToLower(alg) + "-secret")
	case "ES256":
		return k.p256
	case "ES384":
		return k.p384
	case "ES512":
		return k.p521
	case "EdDSA":
		return k.ed
	}
	return k.rsa
}

func head(target string, fields ...string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: example.com\r\n" + strings.Join(fields, "") + "\r\n"
}

func bearer(tok string) string { return "Authorization: Bearer " + tok + "\r\n" }

// check runs one request through a jwt-auth route: the stop's status,
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
	reg := plugintest.Registry(t, jwtauth.Def, nopDef)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cfg
			cfg.Route = tt.route
			if cfg.Route == "" {
				cfg.Route = `{"jwt-auth":{}}`
			}
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
	missing   = `{"message":"Missing JWT token in request"}`
	invalid   = `{"message":"JWT token invalid"}`
	noKey     = `{"message":"missing user key in JWT token"}`
	badKey    = `{"message":"Invalid user key in JWT token"}`
	failed    = `{"message":"failed to verify jwt"}`
	challenge = "WWW-Authenticate: Bearer realm=\"jwt\"\r\n"
)

func TestAlgorithms(t *testing.T) {
	var tests []check
	for _, alg := range []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		user := strings.ToLower(alg)
		tests = append(tests,
			check{name: alg, req: head("/a", bearer(sign(alg, signer(alg), claims(alg+"-key", exp(60))))),
				want: []string{"X-Consumer-Username: " + user + "\r\n"}},
			check{name: alg + " forged", req: head("/a", bearer(forge(sign(alg, signer(alg), claims(alg+"-key", exp(60)))))),
				status: 401, body: failed, want: []string{challenge}},
			check{name: alg + " claims changed", req: head("/a", bearer(swapPayload(sign(alg, signer(alg), claims(alg+"-key", exp(60))), claims(alg+"-key", exp(6000))))),
				status: 401, body: failed},
		)
	}
	run(t, plugintest.Config{Consumers: consumerConfigs()}, tests)
}

// forge flips one bit of the signature's first byte.
func forge(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
	sig[0] ^= 1
	return tok[:i+1] + b64(sig)
}

// relabel signs tok's header.payload again, unchanged but for the header's
// alg, with the HS256 secret: a valid HS256 signature under a header that
// says otherwise.
func relabel(tok, alg string) string {
	p := strings.Split(tok, ".")
	in := b64([]byte(`{"alg":"`+alg+`"}`)) + "." + p[1]
	return in + "." + b64(signature("HS256", []byte("hs256-secret"), []byte(in)))
}

func swapPayload(tok, payload string) string {
	p := strings.Split(tok, ".")
	return p[0] + "." + b64([]byte(payload)) + "." + p[2]
}

func TestJWTAuth(t *testing.T) {
	k := keys()
	hs := []byte("hs256-secret")
	good := sign("HS256", hs, claims("HS256-key", exp(60)))
	rsaPEM := []byte(pubPEM(&k.rsa.PublicKey))
	run(t, plugintest.Config{Consumers: consumerConfigs()}, []check{
		{name: "header without Bearer", req: head("/a", "Authorization: "+good+"\r\n"), want: []string{"X-Consumer-Username: hs256\r\n", good}},
		{name: "lower-case bearer", req: head("/a", "authorization: bearer "+good+"\r\n"), want: []string{"X-Consumer-Username: hs256\r\n"}},
		{name: "other case of Bearer is part of the token", req: head("/a", "Authorization: BEARER "+good+"\r\n"), status: 401, body: invalid},
		{name: "query", req: head("/a?jwt=" + good), want: []string{"X-Consumer-Username: hs256\r\n", "GET /a?jwt=" + good}},
		{name: "cookie", req: head("/a", "Cookie: a=1; jwt="+good+"; b=2\r\n"), want: []string{"X-Consumer-Username: hs256\r\n", "jwt=" + good}},
		{name: "header before query before cookie", req: head("/a?jwt=x", bearer(good), "Cookie: jwt=y\r\n"), want: []string{"X-Consumer-Username: hs256\r\n"}},
		{name: "query before cookie", req: head("/a?jwt=x", "Cookie: jwt="+good+"\r\n"), status: 401, body: invalid},
		{name: "repeated query argument", req: head("/a?jwt=" + good + "&jwt=" + good), status: 401, body: invalid},
		{name: "hide header", route: `{"jwt-auth":{"hide_credentials":true}}`, req: head("/a", bearer(good), "Accept: */*\r\n"),
			want: []string{"Accept: */*\r\n", "X-Consumer-Username: hs256\r\n"}, not: []string{"Authorization", good}},
		{name: "hide query", route: `{"jwt-auth":{"hide_credentials":true}}`, req: head("/a?x=1&jwt=" + good),
			want: []string{"GET /a?x=1 HTTP/1.1\r\n"}, not: []string{good}},
		{name: "hide cookie", route: `{"jwt-auth":{"hide_credentials":true}}`, req: head("/a", "Cookie: a=1; jwt="+good+"\r\nCookie: b=2\r\n"),
			want: []string{"Cookie: a=1; b=2\r\n"}, not: []string{good}},
		{name: "hide the only cookie", route: `{"jwt-auth":{"hide_credentials":true}}`, req: head("/a", "Cookie: jwt="+good+"\r\n"),
			not: []string{"Cookie", good}},
		{name: "custom places", route: `{"jwt-auth":{"header":"X-JWT","query":"t","cookie":"c"}}`, req: head("/a?t=" + good),
			want: []string{"X-Consumer-Username: hs256\r\n"}},
		{name: "default header ignored when another is set", route: `{"jwt-auth":{"header":"X-JWT"}}`, req: head("/a", bearer(good)),
			status: 401, body: missing},

		{name: "missing", req: head("/a"), status: 401, body: missing, want: []string{challenge}},
		{name: "custom realm", route: `{"jwt-auth":{"realm":"api"}}`, req: head("/a"), status: 401, body: missing,
			want: []string{"WWW-Authenticate: Bearer realm=\"api\"\r\n"}},
		{name: "empty header", req: head("/a", "Authorization:\r\n"), status: 401, body: invalid},
		{name: "one part", req: head("/a", bearer("abc")), status: 401, body: invalid},
		{name: "two parts", req: head("/a", bearer("abc.def")), status: 401, body: invalid},
		{name: "four parts", req: head("/a", bearer(good+".x")), status: 401, body: invalid},
		{name: "payload not JSON", req: head("/a", bearer(swapPayload(good, "not json"))), status: 401, body: invalid},
		{name: "payload a JSON array", req: head("/a", bearer(swapPayload(good, `["key"]`))), status: 401, body: invalid},
		{name: "payload not base64url", req: head("/a", bearer(strings.Replace(good, ".", ".!", 1))), status: 401, body: invalid},
		{name: "no key claim", req: head("/a", bearer(sign("HS256", hs, `{"sub":"x"}`))), status: 401, body: noKey},
		{name: "key claim null", req: head("/a", bearer(sign("HS256", hs, `{"key":null}`))), status: 401, body: noKey},
		{name: "key claim a number", req: head("/a", bearer(sign("HS256", hs, `{"key":1}`))), status: 401, body: badKey},
		{name: "wrong key claim", req: head("/a", bearer(sign("HS256", hs, claims("nobody")))), status: 401, body: badKey, want: []string{challenge}},
		{name: "another consumer's secret", req: head("/a", bearer(sign("HS256", []byte("hs384-secret"), claims("HS256-key")))), status: 401, body: failed},
		{name: "alg differs from the credential's", req: head("/a", bearer(sign("HS512", hs, claims("HS256-key")))), status: 401, body: failed},
		{name: "header alg other than the signature's", req: head("/a", bearer(relabel(good, "HS512"))), status: 401, body: failed},
		{name: "alg confusion: HS256 keyed with the RSA public key", req: head("/a", bearer(sign("HS256", rsaPEM, claims("RS256-key")))), status: 401, body: failed},
		{name: "alg none", req: head("/a", bearer(b64([]byte(`{"alg":"none"}`))+"."+b64([]byte(claims("HS256-key")))+".")), status: 401, body: failed},
		{name: "no alg", req: head("/a", bearer(b64([]byte(`{}`))+"."+b64([]byte(claims("HS256-key")))+"."+strings.Split(good, ".")[2])), status: 401, body: failed},
		{name: "empty signature", req: head("/a", bearer(good[:strings.LastIndexByte(good, '.')+1])), status: 401, body: failed},
		{name: "ES256 signature in ASN.1", req: head("/a", bearer(asn1ES256(t))), status: 401, body: failed},

		{name: "expired", req: head("/a", bearer(sign("HS256", hs, claims("HS256-key", exp(-10))))), status: 401, body: failed},
		{name: "not yet valid", req: head("/a", bearer(sign("HS256", hs, claims("HS256-key", nbf(100))))), status: 401, body: failed},
		{name: "nbf past", req: head("/a", bearer(sign("HS256", hs, claims("HS256-key", nbf(-1), exp(10))))), want: []string{"X-Consumer-Username: hs256"}},
		{name: "fractional exp", req: head("/a", bearer(sign("HS256", hs, claims("HS256-key", `"exp":`+strconv.FormatInt(now()+5, 10)+`.5`)))), want: []string{"X-Consumer-Username: hs256"}},
		{name: "exp a string", req: head("/a", bearer(sign("HS256", hs, claims("HS256-key", `"exp":"9999999999"`)))), status: 401, body: failed},
		{name: "no exp: not checked by default", req: head("/a", bearer(sign("HS256", hs, claims("HS256-key")))), want: []string{"X-Consumer-Username: hs256"}},
		{name: "no exp: required by claims_to_verify", route: `{"jwt-auth":{"claims_to_verify":["exp"]}}`, req: head("/a", bearer(sign("HS256", hs, claims("HS256-key")))),
			status: 401, body: failed},
		{name: "claims_to_verify exp leaves nbf alone", route: `{"jwt-auth":{"claims_to_verify":["exp"]}}`,
			req: head("/a", bearer(sign("HS256", hs, claims("HS256-key", exp(10), nbf(100))))), want: []string{"X-Consumer-Username: hs256"}},
		{name: "grace period: expired within it", req: head("/a", bearer(sign("HS256", []byte("s"), claims("grace-key", exp(-30))))), want: []string{"X-Consumer-Username: grace"}},
		{name: "grace period: expired past it", req: head("/a", bearer(sign("HS256", []byte("s"), claims("grace-key", exp(-90))))), status: 401, body: failed},
		{name: "grace period: nbf within it", req: head("/a", bearer(sign("HS256", []byte("s"), claims("grace-key", nbf(30))))), want: []string{"X-Consumer-Username: grace"}},
		{name: "base64 secret", req: head("/a", bearer(sign("HS256", []byte("\x00\xffbinary"), claims("b64-key")))), want: []string{"X-Consumer-Username: b64"}},
		{name: "base64 secret, not its text", req: head("/a", bearer(sign("HS256", []byte(base64.StdEncoding.EncodeToString([]byte("\x00\xffbinary"))), claims("b64-key")))),
			status: 401, body: failed},
		{name: "key claim name", route: `{"jwt-auth":{"key_claim_name":"iss"}}`, req: head("/a", bearer(sign("HS256", hs, `{"iss":"HS256-key"}`))),
			want: []string{"X-Consumer-Username: hs256"}},
		{name: "key claim name with a dot is one name", route: `{"jwt-auth":{"key_claim_name":"a.b"}}`, req: head("/a", bearer(sign("HS256", hs, `{"a.b":"HS256-key","a":{"b":"x"}}`))),
			want: []string{"X-Consumer-Username: hs256"}},
	})
}

// asn1ES256 is an ES256 token whose signature is in ASN.1 DER, as
// crypto/ecdsa makes them, not the r||s JWS requires.
func asn1ES256(t *testing.T) string {
	hdr := b64([]byte(`{"alg":"ES256"}`)) + "." + b64([]byte(claims("ES256-key")))
	d := crypto.SHA256.New()
	d.Write([]byte(hdr))
	sig, err := ecdsa.SignASN1(rand.Reader, keys().p256, d.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return hdr + "." + b64(sig)
}

// RFC 7515's own examples: A.1 (HS256, with CRLFs in its JSON) and A.3
// (ES256), verified as published. Their exp is in 2011, so the
// credential's grace period is set to reach it.
func TestRFC7515Examples(t *testing.T) {
	const payload = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
	a1 := "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + payload + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	a3 := "eyJhbGciOiJFUzI1NiJ9." + payload + ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
	k, _ := base64.RawURLEncoding.DecodeString("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
	x, _ := base64.RawURLEncoding.DecodeString("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU")
	y, _ := base64.RawURLEncoding.DecodeString("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0")
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	pemText, _ := json.Marshal(pubPEM(pub))
	grace := strconv.FormatInt(now()-1300819380+3600, 10)
	cfg := plugintest.Config{Consumers: map[string]string{
		"hs": `{"jwt-auth":{"key":"joe","secret":"` + base64.StdEncoding.EncodeToString(k) + `","base64_secret":true,"lifetime_grace_period":` + grace + `}}`,
		"es": `{"jwt-auth":{"key":"joe","algorithm":"ES256","public_key":` + string(pemText) + `,"lifetime_grace_period":` + grace + `}}`,
	}}
	route := `{"jwt-auth":{"key_claim_name":"iss"}}`
	reg := plugintest.Registry(t, jwtauth.Def)
	for _, tt := range []struct {
		name, token, consumer string
	}{{"A.1 HS256", a1, "hs"}, {"A.3 ES256", a3, "es"}} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := plugintest.Config{Route: route, Consumers: map[string]string{tt.consumer: cfg.Consumers[tt.consumer]}}
			ch := plugintest.MustBuild(t, reg, cfg)
			r := plugintest.NewRequest(head("/a", bearer(tt.token)), "127.0.0.1:5000")
			if res := r.Run(ch); res.Stopped() {
				t.Fatalf("stopped %d %s", res.Status, res.Body)
			}
			r = plugintest.NewRequest(head("/a", bearer(forge(tt.token))), "127.0.0.1:5000")
			if res := r.Run(ch); res.Status != 401 {
				t.Fatalf("forged: %d %s, want 401", res.Status, res.Body)
			}
		})
	}
}

func TestAnonymousConsumer(t *testing.T) {
	hs := []byte("hs256-secret")
	cons := consumerConfigs()
	cons["anonymous"] = `{}`
	route := `{"jwt-auth":{"anonymous_consumer":"anonymous","hide_credentials":true}}`
	run(t, plugintest.Config{Consumers: cons}, []check{
		{name: "valid", route: route, req: head("/a", bearer(sign("HS256", hs, claims("HS256-key")))), want: []string{"X-Consumer-Username: hs256\r\n"}},
		{name: "none", route: route, req: head("/a"), want: []string{"X-Consumer-Username: anonymous\r\n"}},
		{name: "expired, hidden", route: route, req: head("/a", bearer(sign("HS256", hs, claims("HS256-key", exp(-100))))),
			want: []string{"X-Consumer-Username: anonymous\r\n"}, not: []string{"Authorization"}},
		{name: "no such consumer", route: `{"jwt-auth":{"anonymous_consumer":"ghost"}}`, req: head("/a"),
			status: 401, body: `{"message":"Invalid user authorization"}`, want: []string{challenge}},
	})
}

func TestBuildErrors(t *testing.T) {
	k := keys()
	js := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	reg := plugintest.Registry(t, jwtauth.Def)
	con := func(c string) plugintest.Config {
		return plugintest.Config{Route: `{"jwt-auth":{}}`, Consumers: map[string]string{"jack": `{"jwt-auth":` + c + `}`}}
	}
	tests := []struct {
		name string
		cfg  plugintest.Config
		want string
	}{
		{"unknown route field", plugintest.Config{Route: `{"jwt-auth":{"secret":"x"}}`}, "additional properties 'secret' not allowed"},
		{"claims_to_verify", plugintest.Config{Route: `{"jwt-auth":{"claims_to_verify":["iat"]}}`}, "/claims_to_verify/0"},
		{"store_in_ctx", plugintest.Config{Route: `{"jwt-auth":{"store_in_ctx":true}}`}, "store_in_ctx: not supported"},
		{"no key", con(`{"secret":"s"}`), "consumers/jack: plugins.jwt-auth: /: missing property 'key'"},
		{"HS without secret", con(`{"key":"k"}`), "missing property 'secret'"},
		{"RS without public key", con(`{"key":"k","algorithm":"RS256","secret":"s"}`), "missing property 'public_key'"},
		{"unknown algorithm", con(`{"key":"k","algorithm":"HS1","secret":"s"}`), "/algorithm"},
		{"private_key", con(`{"key":"k","secret":"s","private_key":"x"}`), "additional properties 'private_key' not allowed"},
		{"bad base64 secret", con(`{"key":"k","secret":"a!b","base64_secret":true}`), "consumers/jack: plugins.jwt-auth.secret: base64_secret required but the secret is not in base64 format"},
		{"not PEM", con(`{"key":"k","algorithm":"RS256","public_key":"MIIB"}`), "consumers/jack: plugins.jwt-auth.public_key: not a PEM block"},
		{"RS with an EC key", con(`{"key":"k","algorithm":"RS256","public_key":` + js(pubPEM(&k.p256.PublicKey)) + `}`), "RS256 needs an RSA key"},
		{"ES384 with a P-256 key", con(`{"key":"k","algorithm":"ES384","public_key":` + js(pubPEM(&k.p256.PublicKey)) + `}`), "ES384 needs an ECDSA key on P-384, this is an ECDSA key on P-256"},
		{"EdDSA with an RSA key", con(`{"key":"k","algorithm":"EdDSA","public_key":` + js(pubPEM(&k.rsa.PublicKey)) + `}`), "EdDSA needs an Ed25519 key"},
		{"duplicate key", plugintest.Config{Route: `{"jwt-auth":{}}`, Consumers: map[string]string{"a": `{"jwt-auth":{"key":"k","secret":"1"}}`, "b": `{"jwt-auth":{"key":"k","secret":"2"}}`}},
			"consumers/b: plugins.jwt-auth.key: consumer a has the same key"},
		{"secret manager", con(`{"key":"k","secret":"$secret://vault/jwt/jack/jwt-secret"}`), "consumers/jack: plugins.jwt-auth.secret: $secret://vault/jwt/jack/jwt-secret: secret manager references are not supported"},
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

// A remembered token skips only its signature check: a forged copy is
// checked (and fails), an expired one fails every time, and another
// credential's identical token is not taken for it.
func TestVerifiedTokens(t *testing.T) {
	reg := plugintest.Registry(t, jwtauth.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"jwt-auth":{}}`, Consumers: consumerConfigs()})
	good := sign("RS256", signer("RS256"), claims("RS256-key", exp(60)))
	old := sign("RS256", signer("RS256"), claims("RS256-key", exp(-60)))
	for i, tt := range []struct {
		tok    string
		status int
	}{{good, 0}, {forge(good), 401}, {good, 0}, {old, 401}, {old, 401}, {swapPayload(good, claims("PS256-key", exp(60))), 401}, {good, 0}} {
		r := plugintest.NewRequest(head("/a", bearer(tt.tok)), "127.0.0.1:5000")
		if res := r.Run(ch); res.Status != tt.status {
			t.Errorf("request %d: %d %s, want %d", i, res.Status, res.Body, tt.status)
		}
	}
}

// At the second's edge, with the clock fixed: exp equal to now has
// expired, and nbf equal to now is not yet valid (APISIX's strict
// comparisons), by a second either way with a grace period of 1.
func TestClaimEdges(t *testing.T) {
	const at = 1_800_000_000
	defer jwtauth.SetClock(at)()
	hs := []byte("hs256-secret")
	tok := func(c string) string { return bearer(sign("HS256", hs, `{"key":"HS256-key",`+c+`}`)) }
	cons := consumerConfigs()
	cons["grace1"] = `{"jwt-auth":{"key":"grace1-key","secret":"s","lifetime_grace_period":1}}`
	g := func(c string) string { return bearer(sign("HS256", []byte("s"), `{"key":"grace1-key",`+c+`}`)) }
	run(t, plugintest.Config{Consumers: cons}, []check{
		{name: "exp now", req: head("/a", tok(`"exp":1800000000`)), status: 401, body: failed},
		{name: "exp now+1", req: head("/a", tok(`"exp":1800000001`))},
		{name: "nbf now", req: head("/a", tok(`"nbf":1800000000`)), status: 401, body: failed},
		{name: "nbf now-1", req: head("/a", tok(`"nbf":1799999999`))},
		{name: "grace 1: exp now", req: head("/a", g(`"exp":1800000000`))},
		{name: "grace 1: exp now-1", req: head("/a", g(`"exp":1799999999`)), status: 401, body: failed},
		{name: "grace 1: nbf now", req: head("/a", g(`"nbf":1800000000`))},
		{name: "grace 1: nbf now+1", req: head("/a", g(`"nbf":1800000001`)), status: 401, body: failed},
	})
}
