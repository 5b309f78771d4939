// Package keyauth is APISIX's key-auth: the requester shows a key in a
// header (default "apikey") or, failing that, a query argument (default
// "apikey"), and the consumer whose key-auth credential holds that key is
// the requester.
//
// It runs in the rewrite phase at APISIX's priority 2500. Failures answer
// 401 with APISIX's bodies and a WWW-Authenticate: apikey realm="<realm>"
// header: {"message":"Missing API key in request"} without a key,
// {"message":"Invalid API key in request"} with one no consumer has. With
// anonymous_consumer set, a request that fails goes on as that consumer
// instead. hide_credentials keeps the key from the upstream (the header
// removed, or the argument cut out of the target).
//
// Consumers are indexed by key once per config build; a request costs one
// header or query scan and one map lookup, with no allocation.
package keyauth

import (
	"fmt"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
)

const name = "key-auth"

// Def registers key-auth.
var Def = plugin.Def{
	Name:     name,
	Priority: 2500,
	Schema: `{
		"type": "object",
		"properties": {
			"header": {"type": "string", "default": "apikey"},
			"query": {"type": "string", "default": "apikey"},
			"realm": {"type": "string", "pattern": "^[ !#-\\[\\]-~]+$", "minLength": 1, "maxLength": 128, "default": "key"},
			"hide_credentials": {"type": "boolean", "default": false},
			"anonymous_consumer": {"type": "string", "minLength": 1}
		},
		"additionalProperties": false
	}`,
	ConsumerKey: "key",
	ConsumerSchema: `{
		"type": "object",
		"properties": {"key": {"type": "string"}},
		"required": ["key"],
		"additionalProperties": false
	}`,
	New: newKeyAuth,
}

// Config is key-auth's config on a route, service, plugin config or
// global rule.
type Config struct {
	Header            string `json:"header"`
	Query             string `json:"query"`
	Realm             string `json:"realm"`
	HideCredentials   bool   `json:"hide_credentials"`
	AnonymousConsumer string `json:"anonymous_consumer"`
}

// credential is key-auth's config on a consumer.
type credential struct {
	Key string `json:"key"`
}

var hdrWWWAuthenticate = []byte("WWW-Authenticate")

var (
	msgMissing = plugin.Message("Missing API key in request")
	msgInvalid = plugin.Message("Invalid API key in request")
	// msgAnonymous: anonymous_consumer names no consumer.
	msgAnonymous = plugin.Message("Invalid user authorization")
)

type keyAuth struct {
	header    string
	headerB   []byte
	query     string
	hide      bool
	anonymous *plugin.Consumer
	anonName  string
	byKey     map[string]*plugin.Consumer
	challenge []byte // WWW-Authenticate's value
}

func newKeyAuth(b *plugin.Build, data []byte) (any, error) {
	conf := Config{Header: "apikey", Query: "apikey", Realm: "key"}
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	idx, err := b.Shared(name, func() (any, error) { return index(b) })
	if err != nil {
		return nil, err
	}
	p := &keyAuth{
		header: conf.Header, headerB: []byte(conf.Header), query: conf.Query,
		hide: conf.HideCredentials, byKey: idx.(map[string]*plugin.Consumer),
		challenge: []byte(`apikey realm="` + conf.Realm + `"`),
		anonName:  conf.AnonymousConsumer,
	}
	if conf.AnonymousConsumer != "" {
		if p.anonymous = b.Consumer(conf.AnonymousConsumer); p.anonymous == nil {
			// APISIX looks the consumer up per request and answers 401
			// while it is missing; so does sluice, and says so once.
			core.WarnOnce("key-auth-anon-"+conf.AnonymousConsumer, "key-auth: anonymous_consumer %q is not a consumer: requests without a valid key get 401", conf.AnonymousConsumer)
		}
	}
	return p, nil
}

// index maps every key-auth key to its consumer, once per build.
func index(b *plugin.Build) (map[string]*plugin.Consumer, error) {
	m := map[string]*plugin.Consumer{}
	for _, c := range b.Consumers(name) {
		at := "consumers/" + c.Username + ": plugins." + name
		var cred credential
		if err := plugin.Decode(c.Credential(name), &cred); err != nil {
			return nil, fmt.Errorf("%s: %v", at, err)
		}
		key, err := plugin.Secret(cred.Key)
		if err != nil {
			return nil, fmt.Errorf("%s.key: %v", at, err)
		}
		if other := m[key]; other != nil {
			return nil, fmt.Errorf("%s.key: consumer %s has the same key (a key must name one consumer)", at, other.Username)
		}
		m[key] = c
	}
	return m, nil
}

// Rewrite identifies the consumer by its key.
func (p *keyAuth) Rewrite(c *plugin.Ctx) plugin.Result {
	key, fromHeader := c.Header(p.header)
	found := fromHeader
	if !found {
		key, found = c.URIArg(p.query)
	}
	var cons *plugin.Consumer
	if key != nil {
		cons = p.byKey[string(key)]
	}
	if cons == nil {
		return p.fail(c, found)
	}
	if p.hide {
		if fromHeader {
			c.Edits.Del(p.headerB)
		} else {
			c.DelURIArg(p.query)
		}
	}
	c.AttachConsumer(cons)
	return plugin.Continue
}

// fail answers a request without a valid key, or lets it on as the
// anonymous consumer.
func (p *keyAuth) fail(c *plugin.Ctx, found bool) plugin.Result {
	if p.anonName == "" {
		c.RespEdits.Set(hdrWWWAuthenticate, p.challenge)
		if !found {
			return plugin.Stop(401, msgMissing)
		}
		return plugin.Stop(401, msgInvalid)
	}
	if p.hide {
		// An invalid key may be in both places: neither goes upstream.
		if _, ok := c.Header(p.header); ok {
			c.Edits.Del(p.headerB)
		}
		if _, ok := c.URIArg(p.query); ok {
			c.DelURIArg(p.query)
		}
	}
	if p.anonymous == nil {
		c.RespEdits.Set(hdrWWWAuthenticate, p.challenge)
		return plugin.Stop(401, msgAnonymous)
	}
	c.AttachConsumer(p.anonymous)
	return plugin.Continue
}

var _ plugin.Rewriter = (*keyAuth)(nil)
