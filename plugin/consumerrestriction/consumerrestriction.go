// Package consumerrestriction is APISIX's consumer-restriction: it lets a
// request on, or rejects it, by who or what it is for — the consumer's
// name or consumer group (as authentication identified them), the route's
// id or the service's — against a blacklist, a whitelist, and per-consumer
// lists of allowed methods.
//
// It runs in the access phase at APISIX's priority 2400, after the
// authentication plugins. A request with no value to check (no consumer,
// a route without a service) is rejected with 401 {"message":"The request
// is rejected, please check the <type> for this request"}; a rejected one
// with rejected_code (default 403) and {"message": rejected_msg}, by
// default "The <type> is forbidden.". The decision is APISIX's: the
// blacklist first; then, for a value not on the whitelist (when there is
// one) or whose allowed_by_methods entry (the first naming it) lacks the
// request's method, rejection.
//
// The lists become maps at build time; a request costs a map lookup or
// two and allocates nothing.
package consumerrestriction

import (
	"errors"

	"github.com/sluice-gateway/sluice/plugin"
)

const name = "consumer-restriction"

// Def registers consumer-restriction.
var Def = plugin.Def{
	Name:     name,
	Priority: 2400,
	Schema: `{
		"type": "object",
		"properties": {
			"type": {"type": "string", "enum": ["consumer_name", "service_id", "route_id", "consumer_group_id"], "default": "consumer_name"},
			"blacklist": {"type": "array", "minItems": 1, "items": {"type": "string"}},
			"whitelist": {"type": "array", "minItems": 1, "items": {"type": "string"}},
			"allowed_by_methods": {
				"type": "array",
				"items": {
					"type": "object",
					"properties": {
						"user": {"type": "string"},
						"methods": {"type": "array", "minItems": 1, "items": {"type": "string",
							"enum": ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "PURGE"]}}
					},
					"additionalProperties": false
				}
			},
			"rejected_code": {"type": "integer", "minimum": 200, "maximum": 599, "default": 403},
			"rejected_msg": {"type": "string"}
		},
		"anyOf": [{"required": ["blacklist"]}, {"required": ["whitelist"]}, {"required": ["allowed_by_methods"]}],
		"additionalProperties": false
	}`,
	New: newRestriction,
}

// Config is consumer-restriction's config.
type Config struct {
	Type             string    `json:"type"`
	Blacklist        []string  `json:"blacklist"`
	Whitelist        []string  `json:"whitelist"`
	AllowedByMethods []methods `json:"allowed_by_methods"`
	RejectedCode     int       `json:"rejected_code"`
	RejectedMsg      *string   `json:"rejected_msg"`
}

type methods struct {
	User    *string  `json:"user"`
	Methods []string `json:"methods"`
}

// What the restriction checks.
const (
	byConsumer uint8 = iota
	byGroup
	byRoute
	byService
)

var types = map[string]uint8{"consumer_name": byConsumer, "consumer_group_id": byGroup, "route_id": byRoute, "service_id": byService}

type restriction struct {
	by        uint8
	black     map[string]struct{}
	white     map[string]struct{}
	byMethods map[string][]string // user -> methods, the first entry naming each user
	code      int
	rejected  []byte
	noValue   []byte
}

func newRestriction(_ *plugin.Build, data []byte) (any, error) {
	conf := Config{Type: "consumer_name", RejectedCode: 403}
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	by, ok := types[conf.Type]
	if !ok {
		return nil, errors.New("type: unknown " + conf.Type) // the schema's enum keeps this from happening
	}
	p := &restriction{
		by: by, code: conf.RejectedCode,
		black: set(conf.Blacklist), white: set(conf.Whitelist),
		rejected: plugin.Message("The " + conf.Type + " is forbidden."),
		noValue:  plugin.Message("The request is rejected, please check the " + conf.Type + " for this request"),
	}
	if conf.RejectedMsg != nil {
		p.rejected = plugin.Message(*conf.RejectedMsg)
	}
	if len(conf.AllowedByMethods) > 0 {
		p.byMethods = map[string][]string{}
		for _, m := range conf.AllowedByMethods {
			if m.User == nil {
				continue // names no one: APISIX's comparison never matches it
			}
			if _, seen := p.byMethods[*m.User]; !seen {
				p.byMethods[*m.User] = m.Methods
			}
		}
	}
	return p, nil
}

func set(list []string) map[string]struct{} {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(list))
	for _, v := range list {
		m[v] = struct{}{}
	}
	return m
}

// Access lets the request on or rejects it.
func (p *restriction) Access(c *plugin.Ctx) plugin.Result {
	v, ok := p.value(c)
	if !ok {
		return plugin.Stop(401, p.noValue)
	}
	if _, hit := p.black[v]; hit {
		return plugin.Stop(p.code, p.rejected)
	}
	whitelisted := false
	if p.white != nil {
		if _, whitelisted = p.white[v]; !whitelisted {
			return plugin.Stop(p.code, p.rejected)
		}
	}
	if p.byMethods != nil && !whitelisted && !p.methodAllowed(c, v) {
		return plugin.Stop(p.code, p.rejected)
	}
	return plugin.Continue
}

// value is what the request is checked by; false when it has none.
func (p *restriction) value(c *plugin.Ctx) (string, bool) {
	switch p.by {
	case byConsumer:
		if c.Consumer == nil {
			return "", false
		}
		return c.Consumer.Username, true
	case byGroup:
		if c.Consumer == nil || c.Consumer.GroupID == "" {
			return "", false
		}
		return c.Consumer.GroupID, true
	case byRoute:
		return c.RouteID, c.RouteID != ""
	}
	return c.ServiceID, c.ServiceID != ""
}

// methodAllowed: a value with an allowed_by_methods entry may use its
// methods only; one without may use any.
func (p *restriction) methodAllowed(c *plugin.Ctx, v string) bool {
	ms, listed := p.byMethods[v]
	if !listed {
		return true
	}
	var method []byte
	if c.Req != nil {
		method = c.Req.Method()
	}
	for _, m := range ms {
		if string(method) == m {
			return true
		}
	}
	return false
}

var _ plugin.Accessor = (*restriction)(nil)
