// Package realip is APISIX's real-ip: take the client address from a
// request variable (a header such as X-Forwarded-For, or an argument)
// instead of the socket's peer, when the peer is one of trusted_addresses,
// and the port given with it ("1.2.3.4:9080"). Everything after it sees the
// new address (Ctx.SetClient): route vars' remote_addr and remote_port,
// ip-restriction, limit keys, loggers, and the X-Real-IP the upstream gets.
//
// Priority 23000, rewrite phase. In an address list (X-Forwarded-For) the
// last address is taken, or, with recursive, the last one that is not
// trusted — nginx's real_ip_recursive. A value that is not an address
// leaves the client address as it was. No allocation.
package realip

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"unsafe"

	"github.com/sluice-gateway/sluice/plugin"
)

// Def registers real-ip.
var Def = plugin.Def{
	Name:     "real-ip",
	Priority: 23000,
	Schema: `{
		"type": "object",
		"properties": {
			"trusted_addresses": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
			"source": {"type": "string", "minLength": 1},
			"recursive": {"type": "boolean", "default": false}
		},
		"required": ["source"],
		"additionalProperties": false
	}`,
	New: newRealIP,
}

// Config is real-ip's config.
type Config struct {
	TrustedAddresses []string `json:"trusted_addresses"`
	Source           string   `json:"source"`
	Recursive        bool     `json:"recursive"`
}

var (
	hdrRealIP = []byte("X-Real-IP")
	colon     = []byte(":")
)

type realIP struct {
	source    plugin.Var
	trusted   []netip.Prefix
	recursive bool
}

func newRealIP(_ *plugin.Build, data []byte) (any, error) {
	var conf Config
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	p := &realIP{source: plugin.ParseVar(conf.Source), recursive: conf.Recursive}
	for i, s := range conf.TrustedAddresses {
		pf, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("trusted_addresses[%d]: %v", i, err)
		}
		p.trusted = append(p.trusted, pf)
	}
	return p, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
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

// trusts: with no list, every peer is trusted (APISIX's default).
func (p *realIP) trusts(a netip.Addr) bool {
	if p.trusted == nil {
		return true
	}
	a = a.Unmap()
	for _, pf := range p.trusted {
		if pf.Contains(a) {
			return true
		}
	}
	return false
}

// Rewrite replaces the client address.
func (p *realIP) Rewrite(c *plugin.Ctx) plugin.Result {
	if c.Route == nil || !p.trusts(c.Remote.Addr()) {
		return plugin.Continue
	}
	v, ok := c.Get(&p.source)
	if !ok || len(v) == 0 {
		return plugin.Continue
	}
	var pick []byte
	for {
		i := bytes.LastIndexByte(v, ',')
		elem := bytes.TrimSpace(v[i+1:])
		pick = elem
		// As APISIX, recursion needs trusted addresses to skip.
		if !p.recursive || p.trusted == nil || i < 0 {
			break
		}
		if a, _, ok := parseAddr(elem); !ok || !p.trusts(a) {
			break
		}
		v = v[:i]
	}
	a, port, ok := parseAddr(pick)
	if !ok {
		return plugin.Continue
	}
	c.SetClient(a, port)
	c.Edits.Set(hdrRealIP, a.AppendTo(c.Alloc(len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))[:0]))
	return plugin.Continue
}

// parseAddr reads "1.2.3.4", "1.2.3.4:80", "::1" or "[::1]:80" without
// allocating: netip reads a view of the bytes and keeps nothing of it (an
// address with a zone, which it would keep, is refused). The port is 0
// when the value has none; port 0 itself is refused, as APISIX does.
func parseAddr(b []byte) (netip.Addr, uint16, bool) {
	if len(b) == 0 || bytes.IndexByte(b, '%') >= 0 {
		return netip.Addr{}, 0, false
	}
	s := unsafe.String(unsafe.SliceData(b), len(b))
	// Pick the parser by shape: a failed parse builds an error value.
	if b[0] == '[' || bytes.Count(b, colon) == 1 {
		ap, err := netip.ParseAddrPort(s)
		if err != nil || ap.Port() == 0 {
			return netip.Addr{}, 0, false
		}
		return ap.Addr().Unmap(), ap.Port(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	return a.Unmap(), 0, true
}

var _ plugin.Rewriter = (*realIP)(nil)
