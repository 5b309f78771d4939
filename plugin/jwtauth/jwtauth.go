// Package jwtauth is APISIX's jwt-auth: the requester sends a JSON Web
// Token (JWS compact form) in a header (default "Authorization", with or
// without "Bearer "), a query argument (default "jwt") or a cookie
// (default "jwt"); the token's key claim (default "key") names the
// consumer whose jwt-auth credential verifies it.
//
// It runs in the rewrite phase at APISIX's priority 2510. A token must be
// signed with the credential's algorithm exactly (the header's "alg" is
// compared with it first, so an HS256 token cannot pass as an RS256 one
// signed with the public key), with its secret (HS256/384/512, optionally
// base64) or public key (RS*, PS*, ES*, EdDSA as Ed25519), and be within
// its exp/nbf (when present, or always when claims_to_verify lists them)
// give or take the credential's lifetime_grace_period. Failures answer
// 401 with a WWW-Authenticate: Bearer realm="<realm>" header and APISIX's
// bodies: "Missing JWT token in request", "JWT token invalid", "missing
// user key in JWT token", "Invalid user key in JWT token", "failed to
// verify jwt". With anonymous_consumer set, such a request goes on as that
// consumer instead.
//
// Verification is done here with the standard library's crypto packages,
// not a JWT library: the token is base64url-decoded into request scratch
// and its claims read with gjson in place, so the HMAC algorithms and
// EdDSA allocate nothing per request. RSA and ECDSA verification allocate
// inside crypto/rsa and crypto/ecdsa (their big-number arithmetic); see
// alloc_test.go for the counts.
package jwtauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/tidwall/gjson"
)

const name = "jwt-auth"

// Def registers jwt-auth.
var Def = plugin.Def{
	Name:     name,
	Priority: 2510,
	Schema: `{
		"type": "object",
		"properties": {
			"header": {"type": "string", "default": "authorization"},
			"query": {"type": "string", "default": "jwt"},
			"cookie": {"type": "string", "default": "jwt"},
			"hide_credentials": {"type": "boolean", "default": false},
			"key_claim_name": {"type": "string", "minLength": 1, "default": "key"},
			"store_in_ctx": {"type": "boolean", "default": false},
			"realm": {"type": "string", "pattern": "^[ !#-\\[\\]-~]+$", "minLength": 1, "maxLength": 128, "default": "jwt"},
			"anonymous_consumer": {"type": "string", "minLength": 1},
			"claims_to_verify": {"type": "array", "items": {"type": "string", "enum": ["exp", "nbf"]}, "uniqueItems": true}
		},
		"additionalProperties": false
	}`,
	ConsumerKey: "key",
	ConsumerSchema: `{
		"type": "object",
		"properties": {
			"key": {"type": "string", "minLength": 1},
			"secret": {"type": "string", "minLength": 1},
			"public_key": {"type": "string", "minLength": 1},
			"algorithm": {"type": "string", "default": "HS256", "enum": [
				"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512",
				"PS256", "PS384", "PS512", "EdDSA"]},
			"exp": {"type": "integer", "minimum": 1, "default": 86400},
			"base64_secret": {"type": "boolean", "default": false},
			"lifetime_grace_period": {"type": "integer", "minimum": 0, "default": 0}
		},
		"required": ["key"],
		"if": {"properties": {"algorithm": {"pattern": "^HS"}}},
		"then": {"required": ["secret"]},
		"else": {"required": ["public_key"]},
		"additionalProperties": false
	}`,
	New: newJWTAuth,
}

// Config is jwt-auth's config on a route, service, plugin config or
// global rule.
type Config struct {
	Header            string   `json:"header"`
	Query             string   `json:"query"`
	Cookie            string   `json:"cookie"`
	HideCredentials   bool     `json:"hide_credentials"`
	KeyClaimName      string   `json:"key_claim_name"`
	StoreInCtx        bool     `json:"store_in_ctx"`
	Realm             string   `json:"realm"`
	AnonymousConsumer string   `json:"anonymous_consumer"`
	ClaimsToVerify    []string `json:"claims_to_verify"`
}

// credential is jwt-auth's config on a consumer. exp is accepted and, as
// in APISIX (which no longer signs tokens), not used.
type credential struct {
	Key                 string `json:"key"`
	Secret              string `json:"secret"`
	PublicKey           string `json:"public_key"`
	Algorithm           string `json:"algorithm"`
	Exp                 int64  `json:"exp"`
	Base64Secret        bool   `json:"base64_secret"`
	LifetimeGracePeriod int64  `json:"lifetime_grace_period"`
}

var (
	hdrWWWAuthenticate = []byte("WWW-Authenticate")
	hdrCookie          = []byte("Cookie")
)

var (
	msgMissing   = plugin.Message("Missing JWT token in request")
	msgInvalid   = plugin.Message("JWT token invalid")
	msgNoKey     = plugin.Message("missing user key in JWT token")
	msgBadKey    = plugin.Message("Invalid user key in JWT token")
	msgVerify    = plugin.Message("failed to verify jwt")
	msgAnonymous = plugin.Message("Invalid user authorization")
)

type jwtAuth struct {
	header, query string
	headerB       []byte
	cookie        plugin.Var
	cookieName    []byte
	hide          bool
	keyPath       string // key_claim_name as a gjson path
	// exp and nbf: checked when present (check), or required (require)
	checkExp, checkNbf, require bool
	anonName                    string
	anonymous                   *plugin.Consumer
	idx                         *credIndex
	challenge                   []byte // WWW-Authenticate's value
}

func newJWTAuth(b *plugin.Build, data []byte) (any, error) {
	conf := Config{Header: "authorization", Query: "jwt", Cookie: "jwt", KeyClaimName: "key", Realm: "jwt"}
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	if conf.StoreInCtx {
		return nil, errors.New("store_in_ctx: not supported (sluice has no plugin that reads the payload it stores); leave it false")
	}
	idx, err := b.Shared(name, func() (any, error) { return index(b) })
	if err != nil {
		return nil, err
	}
	p := &jwtAuth{
		header: conf.Header, headerB: []byte(conf.Header), query: conf.Query,
		cookie: plugin.ParseVar("cookie_" + conf.Cookie), cookieName: []byte(conf.Cookie),
		hide: conf.HideCredentials, keyPath: gjson.Escape(conf.KeyClaimName),
		anonName: conf.AnonymousConsumer, idx: idx.(*credIndex),
		challenge: []byte(`Bearer realm="` + conf.Realm + `"`),
		checkExp:  true, checkNbf: true,
	}
	if len(conf.ClaimsToVerify) > 0 {
		p.require, p.checkExp, p.checkNbf = true, false, false
		for _, c := range conf.ClaimsToVerify {
			p.checkExp = p.checkExp || c == "exp"
			p.checkNbf = p.checkNbf || c == "nbf"
		}
	}
	if conf.AnonymousConsumer != "" {
		if p.anonymous = b.Consumer(conf.AnonymousConsumer); p.anonymous == nil {
			core.WarnOnce("jwt-auth-anon-"+conf.AnonymousConsumer, "jwt-auth: anonymous_consumer %q is not a consumer: requests without a valid token get 401", conf.AnonymousConsumer)
		}
	}
	return p, nil
}

// Rewrite identifies the consumer by its token.
func (p *jwtAuth) Rewrite(c *plugin.Ctx) plugin.Result {
	cons, msg := p.find(c)
	if cons == nil {
		if p.anonName == "" || p.anonymous == nil {
			c.RespEdits.Set(hdrWWWAuthenticate, p.challenge)
			if p.anonName != "" {
				msg = msgAnonymous
			}
			return plugin.Stop(401, msg)
		}
		cons = p.anonymous
	}
	c.AttachConsumer(cons)
	return plugin.Continue
}

// find returns the consumer whose credential verifies the request's
// token, or the message saying why there is none.
func (p *jwtAuth) find(c *plugin.Ctx) (*plugin.Consumer, []byte) {
	tok, ok := p.token(c)
	if !ok {
		return nil, msgMissing
	}
	var t token
	if !t.parse(c, tok) {
		return nil, msgInvalid
	}
	kc := gjson.Get(str(t.payload), p.keyPath)
	switch kc.Type {
	case gjson.Null, gjson.False:
		return nil, msgNoKey
	case gjson.String:
	default:
		return nil, msgBadKey
	}
	cr := p.idx.creds[kc.Str]
	if cr == nil {
		return nil, msgBadKey
	}
	if alg := gjson.Get(str(t.header), "alg"); alg.Type != gjson.String || alg.Str != cr.alg {
		return nil, msgVerify
	}
	if !p.idx.verify(c, cr, tok, &t) {
		return nil, msgVerify
	}
	if !p.claimsValid(t.payload, cr.grace) {
		return nil, msgVerify
	}
	return cr.consumer, nil
}

// token finds the token where APISIX looks for it: the header, then the
// query argument, then the cookie, hiding it from the upstream when asked
// to (even when it then fails to verify, as APISIX does).
func (p *jwtAuth) token(c *plugin.Ctx) ([]byte, bool) {
	if h, ok := c.Header(p.header); ok {
		if p.hide {
			c.Edits.Del(p.headerB)
		}
		if len(h) >= 7 && (string(h[:7]) == "Bearer " || string(h[:7]) == "bearer ") {
			h = h[7:]
		}
		return h, true
	}
	if q, ok := c.URIArg(p.query); ok {
		if p.hide {
			c.DelURIArg(p.query)
		}
		// A repeated argument (q nil) is not a token: "JWT token invalid".
		return q, true
	}
	v, ok := c.Get(&p.cookie)
	if !ok {
		return nil, false
	}
	if p.hide {
		p.dropCookie(c)
	}
	return v, true
}

// dropCookie rewrites the Cookie header without the token's cookie (all
// Cookie lines joined into one, as the upstream receives one).
func (p *jwtAuth) dropCookie(c *plugin.Ctx) {
	n := 0
	for i := range c.Req.NumFields() {
		if k, v := c.Req.Field(i); equalFold(k, hdrCookie) {
			n += len(v) + 2
		}
	}
	out := c.Alloc(n)[:0]
	for i := range c.Req.NumFields() {
		k, v := c.Req.Field(i)
		if !equalFold(k, hdrCookie) {
			continue
		}
		for len(v) > 0 {
			var pair []byte
			if j := bytes.IndexByte(v, ';'); j >= 0 {
				pair, v = v[:j], v[j+1:]
			} else {
				pair, v = v, nil
			}
			pair = bytes.Trim(pair, " \t")
			cn, _, _ := bytes.Cut(pair, []byte{'='})
			if len(pair) == 0 || bytes.Equal(cn, p.cookieName) {
				continue
			}
			if len(out) > 0 {
				out = append(out, ';', ' ')
			}
			out = append(out, pair...)
		}
	}
	if len(out) == 0 {
		c.Edits.Del(hdrCookie)
		return
	}
	c.Edits.Set(hdrCookie, out)
}

// claimsValid checks exp and nbf against the clock, give or take grace
// seconds, as APISIX does: exp must be after now-grace and nbf before
// now+grace, both JSON numbers; absent claims pass unless required.
func (p *jwtAuth) claimsValid(payload []byte, grace int64) bool {
	now := unixNow()
	if p.checkExp {
		if !claim(payload, "exp", p.require, func(v float64) bool { return v > float64(now-grace) }) {
			return false
		}
	}
	if p.checkNbf {
		if !claim(payload, "nbf", p.require, func(v float64) bool { return v < float64(now+grace) }) {
			return false
		}
	}
	return true
}

// unixNow is the clock exp and nbf are checked against (a variable for
// tests at a second's edge).
var unixNow = func() int64 { return time.Now().Unix() }

func claim(payload []byte, name string, required bool, ok func(float64) bool) bool {
	v := gjson.Get(str(payload), name)
	if !v.Exists() || v.Type == gjson.Null {
		return !required
	}
	return v.Type == gjson.Number && ok(v.Num)
}

// token is a JWS in compact form, decoded into request scratch.
type token struct {
	header, payload, sig []byte
	signed               []byte // header.payload as received: what was signed
}

// parse splits and decodes tok; false when it is not three base64url
// parts whose first two are JSON objects.
func (t *token) parse(c *plugin.Ctx, tok []byte) bool {
	i := bytes.IndexByte(tok, '.')
	if i < 0 {
		return false
	}
	j := bytes.IndexByte(tok[i+1:], '.')
	if j < 0 {
		return false
	}
	j += i + 1
	if bytes.IndexByte(tok[j+1:], '.') >= 0 {
		return false
	}
	buf := c.Alloc(len(tok))
	var ok bool
	if t.header, buf, ok = decode(buf, tok[:i]); !ok || !isObject(t.header) {
		return false
	}
	if t.payload, buf, ok = decode(buf, tok[i+1:j]); !ok || !isObject(t.payload) {
		return false
	}
	if t.sig, _, ok = decode(buf, tok[j+1:]); !ok {
		return false
	}
	t.signed = tok[:j]
	return true
}

// decode base64url-decodes src (padding optional) into the front of buf
// and returns the rest of buf.
func decode(buf, src []byte) (out, rest []byte, ok bool) {
	for len(src) > 0 && src[len(src)-1] == '=' {
		src = src[:len(src)-1]
	}
	n, err := base64.RawURLEncoding.Decode(buf, src)
	if err != nil {
		return nil, buf, false
	}
	return buf[:n], buf[n:], true
}

func isObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{' && gjson.ValidBytes(b)
}

// str views b as a string for gjson, which only reads it during the call;
// results that point into it (Result.Str of a string without escapes) are
// used before the request's scratch is reused.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func equalFold(a, b []byte) bool { return len(a) == len(b) && strings.EqualFold(str(a), str(b)) }

// cred is one consumer's jwt-auth credential, ready to verify with.
type cred struct {
	consumer *plugin.Consumer
	alg      string
	grace    int64
	hash     crypto.Hash
	verify   func(c *plugin.Ctx, signed, sig []byte) bool
	// cached: verified tokens are remembered (public-key algorithms, whose
	// verification costs tens of microseconds; an HMAC costs less than
	// the lookup would save).
	cached bool
}

// credIndex is the build's jwt-auth credentials by key, and the tokens
// they verified.
type credIndex struct {
	creds map[string]*cred
	seen  *verified
}

// verify checks t's signature with cr, or finds that the same token (tok,
// every byte of it) verified with cr before.
func (x *credIndex) verify(c *plugin.Ctx, cr *cred, tok []byte, t *token) bool {
	if !cr.cached {
		return cr.verify(c, t.signed, t.sig)
	}
	sum := sha256.Sum256(tok)
	if x.seen.has(&sum, cr) {
		return true
	}
	if !cr.verify(c, t.signed, t.sig) {
		return false
	}
	x.seen.add(&sum, cr)
	return true
}

// index maps every jwt-auth key to its credential, once per build.
func index(b *plugin.Build) (*credIndex, error) {
	m := map[string]*cred{}
	for _, cons := range b.Consumers(name) {
		at := "consumers/" + cons.Username + ": plugins." + name
		cr, key, err := newCred(cons)
		if err != nil {
			return nil, fmt.Errorf("%s%v", at, err)
		}
		if other := m[key]; other != nil {
			return nil, fmt.Errorf("%s.key: consumer %s has the same key (a key must name one consumer)", at, other.consumer.Username)
		}
		m[key] = cr
	}
	return &credIndex{creds: m, seen: newVerified(verifiedEntries)}, nil
}

// newCred prepares a consumer's credential; errors start with the field
// (".secret: ...").
func newCred(cons *plugin.Consumer) (*cred, string, error) {
	conf := credential{Algorithm: "HS256", Exp: 86400}
	if err := plugin.Decode(cons.Credential(name), &conf); err != nil {
		return nil, "", fmt.Errorf(": %v", err)
	}
	key, err := plugin.Secret(conf.Key)
	if err != nil {
		return nil, "", fmt.Errorf(".key: %v", err)
	}
	cr := &cred{consumer: cons, alg: conf.Algorithm, grace: conf.LifetimeGracePeriod}
	switch conf.Algorithm {
	case "HS256", "RS256", "ES256", "PS256":
		cr.hash = crypto.SHA256
	case "HS384", "RS384", "ES384", "PS384":
		cr.hash = crypto.SHA384
	case "HS512", "RS512", "ES512", "PS512":
		cr.hash = crypto.SHA512
	}
	if strings.HasPrefix(conf.Algorithm, "HS") {
		secret, err := plugin.Secret(conf.Secret)
		if err != nil {
			return nil, "", fmt.Errorf(".secret: %v", err)
		}
		k := []byte(secret)
		if conf.Base64Secret {
			if k, err = decodeStd(secret); err != nil {
				return nil, "", errors.New(".secret: base64_secret required but the secret is not in base64 format")
			}
		}
		cr.verify = hmacVerifier(cr.hash, k)
		return cr, key, nil
	}
	pemText, err := plugin.Secret(conf.PublicKey)
	if err != nil {
		return nil, "", fmt.Errorf(".public_key: %v", err)
	}
	pub, err := parsePublicKey(pemText)
	if err != nil {
		return nil, "", fmt.Errorf(".public_key: %v", err)
	}
	if cr.verify, err = pkVerifier(conf.Algorithm, cr.hash, pub); err != nil {
		return nil, "", fmt.Errorf(".public_key: %v", err)
	}
	cr.cached = true
	return cr, key, nil
}

// decodeStd decodes base64 as nginx's ngx.decode_base64 does: the
// standard alphabet, padding optional, nothing read after a '='.
func decodeStd(s string) ([]byte, error) {
	if i := strings.IndexByte(s, '='); i >= 0 {
		s = s[:i]
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func parsePublicKey(text string) (any, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("not a PEM block (want -----BEGIN PUBLIC KEY-----)")
	}
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	}
	return nil, fmt.Errorf("PEM block %q: want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", block.Type)
}

// hmacVerifier checks HS* signatures. A keyed HMAC state is reused from a
// pool (Reset restores the keyed state), so a request allocates nothing.
func hmacVerifier(h crypto.Hash, key []byte) func(*plugin.Ctx, []byte, []byte) bool {
	pool := &sync.Pool{New: func() any { return hmac.New(h.New, key) }}
	size := h.Size()
	return func(c *plugin.Ctx, signed, sig []byte) bool {
		if len(sig) != size {
			return false
		}
		m := pool.Get().(hash.Hash)
		m.Reset()
		m.Write(signed)
		sum := m.Sum(c.Alloc(size)[:0])
		pool.Put(m)
		return hmac.Equal(sum, sig)
	}
}

// pssOptions: the salt as long as the hash (RFC 7518 §3.5) or, as OpenSSL
// accepts when verifying, whatever length the signature has.
var pssOptions = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}

// pkVerifier checks signatures made with the private key of pub.
func pkVerifier(alg string, h crypto.Hash, pub any) (func(*plugin.Ctx, []byte, []byte) bool, error) {
	switch alg[:2] {
	case "RS", "PS":
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%s needs an RSA key, this is %T", alg, pub)
		}
		pss := alg[0] == 'P'
		return func(c *plugin.Ctx, signed, sig []byte) bool {
			d := digest(c, h, signed)
			if pss {
				return rsa.VerifyPSS(k, h, d, sig, pssOptions) == nil
			}
			return rsa.VerifyPKCS1v15(k, h, d, sig) == nil
		}, nil
	case "ES":
		k, ok := pub.(*ecdsa.PublicKey)
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		if !ok || k.Curve != want {
			return nil, fmt.Errorf("%s needs an ECDSA key on %s, this is %s", alg, want.Params().Name, keyName(pub))
		}
		size := (want.Params().BitSize + 7) / 8
		return func(c *plugin.Ctx, signed, sig []byte) bool {
			// JWS signs with r||s, each size bytes; Go verifies ASN.1.
			if len(sig) != 2*size {
				return false
			}
			return ecdsa.VerifyASN1(k, digest(c, h, signed), asn1Sig(c, sig[:size], sig[size:]))
		}, nil
	case "Ed":
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("EdDSA needs an Ed25519 key (Ed448 is not supported), this is %s", keyName(pub))
		}
		return func(_ *plugin.Ctx, signed, sig []byte) bool { return ed25519.Verify(k, signed, sig) }, nil
	}
	return nil, fmt.Errorf("algorithm %s: not supported", alg)
}

func keyName(pub any) string {
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		return "an ECDSA key on " + k.Curve.Params().Name
	}
	return fmt.Sprintf("a %T", pub)
}

// digest hashes msg into request scratch.
func digest(c *plugin.Ctx, h crypto.Hash, msg []byte) []byte {
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256(msg)
		return append(c.Alloc(len(s))[:0], s[:]...)
	case crypto.SHA384:
		s := sha512.Sum384(msg)
		return append(c.Alloc(len(s))[:0], s[:]...)
	}
	s := sha512.Sum512(msg)
	return append(c.Alloc(len(s))[:0], s[:]...)
}

// asn1Sig encodes r and s (big-endian, unsigned) as the DER
// SEQUENCE { INTEGER r, INTEGER s } into request scratch.
func asn1Sig(c *plugin.Ctx, r, s []byte) []byte {
	r, s = trimZeros(r), trimZeros(s)
	lr, ls := intLen(r), intLen(s)
	body := 2 + lr + 2 + ls
	if lr > 127 || ls > 127 {
		return nil // not for the curves here (at most 67 bytes)
	}
	out := c.Alloc(3 + body)[:0]
	if body > 127 {
		out = append(out, 0x30, 0x81, byte(body))
	} else {
		out = append(out, 0x30, byte(body))
	}
	out = appendInt(out, r)
	return appendInt(out, s)
}

func trimZeros(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// intLen is the DER INTEGER content length of unsigned b: a 0 in front
// when its top bit is set.
func intLen(b []byte) int {
	if len(b) > 0 && b[0]&0x80 != 0 {
		return len(b) + 1
	}
	return len(b)
}

func appendInt(out, b []byte) []byte {
	out = append(out, 0x02, byte(intLen(b)))
	if intLen(b) > len(b) {
		out = append(out, 0)
	}
	return append(out, b...)
}

// verifiedEntries bounds the tokens remembered per build: 16 shards of
// 1,024, each entry 40 bytes of key and value (SHA-256 of the token, the
// credential), about 1 MB when full.
var verifiedEntries = 16 * 1024

// verified remembers tokens whose signature a public-key credential
// verified, by the SHA-256 of the whole token, so a client reusing its
// token (the common case) costs a hash instead of an RSA or ECDSA
// verification (and their allocations). Only the signature check is
// skipped: the token is parsed and its claims checked on every request.
// It lives as long as the build's credentials: a config change that
// rebuilds them starts it afresh. A full shard is emptied.
type verified struct {
	shards [16]struct {
		mu sync.Mutex
		m  map[[sha256.Size]byte]*cred
		_  [48]byte // keep shards' locks on separate cache lines
	}
	per int
}

func newVerified(entries int) *verified {
	v := &verified{per: entries / 16}
	for i := range v.shards {
		v.shards[i].m = make(map[[sha256.Size]byte]*cred)
	}
	return v
}

func (v *verified) has(sum *[sha256.Size]byte, cr *cred) bool {
	sh := &v.shards[sum[0]&15]
	sh.mu.Lock()
	got := sh.m[*sum]
	sh.mu.Unlock()
	return got == cr
}

func (v *verified) add(sum *[sha256.Size]byte, cr *cred) {
	if v.per <= 0 {
		return
	}
	sh := &v.shards[sum[0]&15]
	sh.mu.Lock()
	if len(sh.m) >= v.per {
		clear(sh.m)
	}
	sh.m[*sum] = cr
	sh.mu.Unlock()
}

var _ plugin.Rewriter = (*jwtAuth)(nil)
