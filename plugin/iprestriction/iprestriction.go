// Package iprestriction is APISIX's ip-restriction: a whitelist or a
// blacklist of client addresses (IPs and CIDRs, IPv4 and IPv6). A request
// or stream from an address the lists refuse gets response_code (403 by
// default) with {"message": "<message>"}; a refused stream is closed.
//
// One check, bound twice: Access for HTTP routes and Preread for stream
// routes, at APISIX's priority 3000. The lists are parsed once per build
// into prefixes; a request costs a scan of them with no allocation.
package iprestriction

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/sluice-gateway/sluice/plugin"
)

// Def registers ip-restriction.
var Def = plugin.Def{
	Name:     "ip-restriction",
	Priority: 3000,
	Schema: `{
		"type": "object",
		"properties": {
			"message": {"type": "string", "minLength": 1, "maxLength": 1024, "default": "Your IP address is not allowed"},
			"response_code": {"type": "integer", "minimum": 403, "maximum": 404, "default": 403},
			"whitelist": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
			"blacklist": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}
		},
		"oneOf": [{"required": ["whitelist"]}, {"required": ["blacklist"]}],
		"additionalProperties": false
	}`,
	New: newRestriction,
}

// Config is ip-restriction's config.
type Config struct {
	Message      string   `json:"message"`
	ResponseCode int      `json:"response_code"`
	Whitelist    []string `json:"whitelist"`
	Blacklist    []string `json:"blacklist"`
}

type restriction struct {
	nets  []netip.Prefix
	allow bool // whitelist: the listed addresses pass; blacklist: they are refused
	code  int
	body  []byte
}

func newRestriction(_ *plugin.Build, data []byte) (any, error) {
	conf := Config{Message: "Your IP address is not allowed", ResponseCode: 403}
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	r := &restriction{code: conf.ResponseCode, body: plugin.Message(conf.Message)}
	list, field := conf.Blacklist, "blacklist"
	if len(conf.Whitelist) > 0 {
		list, field, r.allow = conf.Whitelist, "whitelist", true
	}
	for i, s := range list {
		p, err := parse(s)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %v", field, i, err)
		}
		r.nets = append(r.nets, p)
	}
	return r, nil
}

// parse reads an address or a CIDR, as APISIX's ip matcher takes them.
func parse(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("want an IP or CIDR: %v", err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("want an IP or CIDR: %v", err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// check is the one body of both phases.
func (r *restriction) check(c *plugin.Ctx) plugin.Result {
	addr := c.Remote.Addr()
	if c.Route != nil && c.Route.RemoteAddr.IsValid() {
		addr = c.Route.RemoteAddr // real-ip may have replaced it
	}
	addr = addr.Unmap()
	listed := false
	for _, p := range r.nets {
		if p.Contains(addr) {
			listed = true
			break
		}
	}
	if listed != r.allow {
		return plugin.Stop(r.code, r.body)
	}
	return plugin.Continue
}

// Access checks an HTTP request's client.
func (r *restriction) Access(c *plugin.Ctx) plugin.Result { return r.check(c) }

// Preread checks a stream's client.
func (r *restriction) Preread(c *plugin.Ctx) plugin.Result { return r.check(c) }

var (
	_ plugin.Accessor  = (*restriction)(nil)
	_ plugin.Prereader = (*restriction)(nil)
)
