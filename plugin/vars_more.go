package plugin

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
)

// More of APISIX's request variables, for templates and Get:
//
//   - uri_param_<name>: the route's captured path parameter (":name" in
//     the route's uri), percent-decoded as APISIX's $uri is (a control
//     character stays encoded);
//   - $1 … $9 (any number): the captures of the regex a plugin matched
//     for this request (proxy-rewrite's regex_uri), via SetCaptures;
//   - balancer_ip, balancer_port, upstream_addr: the upstream node that
//     served the request, once known (header_filter, log).

// parseMoreVar recognises the names above.
func parseMoreVar(v *Var) bool {
	switch name := v.name; {
	case strings.HasPrefix(name, "uri_param_") && len(name) > len("uri_param_"):
		v.special, v.arg = varURIParam, name[len("uri_param_"):]
	case name == "balancer_ip":
		v.special = varBalancerIP
	case name == "balancer_port":
		v.special = varBalancerPort
	case name == "upstream_addr":
		v.special = varUpstreamAddr
	default:
		n, err := strconv.Atoi(name)
		if err != nil || n < 0 || name[0] == '+' || name[0] == '-' {
			return false
		}
		v.special, v.num = varCapture, n
	}
	return true
}

func (c *Ctx) getMoreVar(v *Var) ([]byte, bool) {
	switch v.special {
	case varURIParam:
		if c.Match == nil {
			return nil, false
		}
		p, ok := c.Match.Param(v.arg)
		if !ok {
			return nil, false
		}
		return c.percentDecoded(p), true
	case varCapture:
		return c.caps.get(v.num)
	case varBalancerIP:
		if !c.Node.IsValid() {
			return nil, false
		}
		c.tmp = c.Node.Addr().Unmap().AppendTo(c.tmp[:0])
		return c.Keep(c.tmp), true
	case varBalancerPort:
		if !c.Node.IsValid() {
			return nil, false
		}
		return c.Itoa(int64(c.Node.Port())), true
	case varUpstreamAddr:
		if !c.Node.IsValid() {
			return nil, false
		}
		c.tmp = netip.AddrPortFrom(c.Node.Addr().Unmap(), c.Node.Port()).AppendTo(c.tmp[:0])
		return c.Keep(c.tmp), true
	}
	return nil, false
}

// percentDecoded decodes %XX escapes of p into request storage (p itself
// when it has none). A control character, or a malformed escape, stays
// as it was: a decoded value may go into a header field.
func (c *Ctx) percentDecoded(p []byte) []byte {
	if bytes.IndexByte(p, '%') < 0 {
		return p
	}
	out := c.Alloc(len(p))[:0]
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			if b := unhex(p[i+1])<<4 | unhex(p[i+2]); b >= 0x20 && b != 0x7f {
				out = append(out, b)
				i += 2
				continue
			}
		}
		out = append(out, p[i])
	}
	return out
}

// captures are a regex match's submatches: the subject and the index
// pairs Go's regexp returns.
type captures struct {
	src []byte
	idx []int
}

func (k *captures) reset() { k.src, k.idx = nil, k.idx[:0] }

func (k *captures) get(n int) ([]byte, bool) {
	if 2*n+1 >= len(k.idx) || k.idx[2*n] < 0 {
		return nil, false
	}
	return k.src[k.idx[2*n]:k.idx[2*n+1]], true
}

// SetCaptures makes a regex match's submatches the request's $0, $1, …
// for the templates rendered after it: src is the subject (it must stay
// valid for the request: a view into the request, or request storage),
// idx what regexp's FindSubmatchIndex returned for it. The indexes are
// copied into storage the context reuses.
func (c *Ctx) SetCaptures(src []byte, idx []int) {
	c.caps.src = src
	c.caps.idx = append(c.caps.idx[:0], idx...)
}
