// Package basicauth is APISIX's basic-auth: the requester sends
// "Authorization: Basic base64(username:password)", and the consumer whose
// basic-auth credential has that username and password is the requester.
//
// It runs in the rewrite phase at APISIX's priority 2520. Every failure
// answers 401 with a WWW-Authenticate: Basic realm="<realm>" header and
// APISIX's body: {"message":"Missing authorization in request"} without
// the header, {"message":"Invalid authorization in request"} when it does
// not parse, {"message":"Invalid user authorization"} for an unknown user
// or a wrong password. With anonymous_consumer set, a request that fails
// goes on as that consumer instead. hide_credentials removes the
// Authorization header before proxying.
//
// The header is read as APISIX reads it: the first "basic" (any case)
// followed by one white-space character, then base64 as nginx decodes it
// (padding optional), split at the first ':' (RFC 7617; APISIX splits at
// every ':' and drops what follows a second one), white space removed from
// both parts. Passwords compare in constant time. Consumers are indexed by
// username once per config build; a request allocates nothing.
package basicauth

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
)

const name = "basic-auth"

// Def registers basic-auth.
var Def = plugin.Def{
	Name:     name,
	Priority: 2520,
	Schema: `{
		"type": "object",
		"properties": {
			"hide_credentials": {"type": "boolean", "default": false},
			"realm": {"type": "string", "pattern": "^[ !#-\\[\\]-~]+$", "minLength": 1, "maxLength": 128, "default": "basic"},
			"anonymous_consumer": {"type": "string", "minLength": 1}
		},
		"additionalProperties": false
	}`,
	ConsumerKey: "username",
	ConsumerSchema: `{
		"type": "object",
		"properties": {
			"username": {"type": "string"},
			"password": {"type": "string"}
		},
		"required": ["username", "password"],
		"additionalProperties": false
	}`,
	New: newBasicAuth,
}

// Config is basic-auth's config on a route, service, plugin config or
// global rule.
type Config struct {
	HideCredentials   bool   `json:"hide_credentials"`
	Realm             string `json:"realm"`
	AnonymousConsumer string `json:"anonymous_consumer"`
}

// credential is basic-auth's config on a consumer.
type credential struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// user is one credential, indexed by username.
type user struct {
	consumer *plugin.Consumer
	password []byte
}

var (
	hdrAuthorization   = []byte("Authorization")
	hdrWWWAuthenticate = []byte("WWW-Authenticate")
)

var (
	msgMissing = plugin.Message("Missing authorization in request")
	msgBad     = plugin.Message("Invalid authorization in request")
	msgInvalid = plugin.Message("Invalid user authorization")
)

type basicAuth struct {
	hide      bool
	anonName  string
	anonymous *plugin.Consumer
	users     map[string]user
	challenge []byte // WWW-Authenticate's value
}

func newBasicAuth(b *plugin.Build, data []byte) (any, error) {
	conf := Config{Realm: "basic"}
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	idx, err := b.Shared(name, func() (any, error) { return index(b) })
	if err != nil {
		return nil, err
	}
	p := &basicAuth{
		hide: conf.HideCredentials, anonName: conf.AnonymousConsumer,
		users:     idx.(map[string]user),
		challenge: []byte(`Basic realm="` + conf.Realm + `"`),
	}
	if conf.AnonymousConsumer != "" {
		if p.anonymous = b.Consumer(conf.AnonymousConsumer); p.anonymous == nil {
			core.WarnOnce("basic-auth-anon-"+conf.AnonymousConsumer, "basic-auth: anonymous_consumer %q is not a consumer: requests without valid credentials get 401", conf.AnonymousConsumer)
		}
	}
	return p, nil
}

// index maps every basic-auth username to its credential, once per build.
func index(b *plugin.Build) (map[string]user, error) {
	m := map[string]user{}
	for _, c := range b.Consumers(name) {
		at := "consumers/" + c.Username + ": plugins." + name
		var cred credential
		if err := plugin.Decode(c.Credential(name), &cred); err != nil {
			return nil, fmt.Errorf("%s: %v", at, err)
		}
		username, err := plugin.Secret(cred.Username)
		if err != nil {
			return nil, fmt.Errorf("%s.username: %v", at, err)
		}
		password, err := plugin.Secret(cred.Password)
		if err != nil {
			return nil, fmt.Errorf("%s.password: %v", at, err)
		}
		if other, dup := m[username]; dup {
			return nil, fmt.Errorf("%s.username: consumer %s has the same username (a username must name one consumer)", at, other.consumer.Username)
		}
		m[username] = user{consumer: c, password: []byte(password)}
	}
	return m, nil
}

// Rewrite identifies the consumer by its username and password.
func (p *basicAuth) Rewrite(c *plugin.Ctx) plugin.Result {
	cons, msg := p.find(c)
	if cons == nil {
		if p.anonName == "" || p.anonymous == nil {
			c.RespEdits.Set(hdrWWWAuthenticate, p.challenge)
			if p.anonName != "" {
				msg = msgInvalid
			}
			return plugin.Stop(401, msg)
		}
		cons = p.anonymous
	}
	if p.hide {
		c.Edits.Del(hdrAuthorization)
	}
	c.AttachConsumer(cons)
	return plugin.Continue
}

// find returns the consumer the Authorization header names, or the
// message saying why there is none.
func (p *basicAuth) find(c *plugin.Ctx) (*plugin.Consumer, []byte) {
	h, ok := c.Header("Authorization")
	if !ok {
		return nil, msgMissing
	}
	enc := credentials(h)
	if enc == nil {
		return nil, msgBad
	}
	dec := c.Alloc(base64.RawStdEncoding.DecodedLen(len(enc)))
	n, err := base64.RawStdEncoding.Decode(dec, enc)
	if err != nil {
		return nil, msgBad
	}
	dec = dec[:n]
	i := indexByte(dec, ':')
	if i < 0 {
		return nil, msgBad
	}
	username, password := stripSpace(dec[:i]), stripSpace(dec[i+1:])
	u, ok := p.users[string(username)]
	if !ok || subtle.ConstantTimeCompare(u.password, password) != 1 {
		return nil, msgInvalid
	}
	return u.consumer, nil
}

// credentials finds what follows the first "basic" (any case) and one
// white-space character (APISIX's unanchored (?i:basic)\s(.+)), cut at
// the first '=' and checked to be base64 as nginx's ngx_decode_base64
// checks it; nil when there is none.
func credentials(h []byte) []byte {
	for i := 0; i+6 < len(h); i++ {
		if !isBasic(h[i:i+5]) || !isSpace(h[i+5]) {
			continue
		}
		enc := h[i+6:]
		if j := indexByte(enc, '='); j >= 0 {
			enc = enc[:j]
		}
		for _, ch := range enc {
			if !isBase64(ch) {
				return nil
			}
		}
		if len(enc)%4 == 1 {
			return nil
		}
		return enc
	}
	return nil
}

func isBasic(b []byte) bool {
	return b[0]|0x20 == 'b' && b[1]|0x20 == 'a' && b[2]|0x20 == 's' && b[3]|0x20 == 'i' && b[4]|0x20 == 'c'
}

// isSpace is PCRE's \s.
func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == '\r'
}

func isBase64(b byte) bool {
	return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '+' || b == '/'
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// stripSpace removes every white-space byte from b, in place (APISIX's
// gsub("\\s+", "")).
func stripSpace(b []byte) []byte {
	out := b[:0]
	for _, x := range b {
		if !isSpace(x) {
			out = append(out, x)
		}
	}
	return out
}

var _ plugin.Rewriter = (*basicAuth)(nil)
