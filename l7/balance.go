package l7

import (
	"bytes"
	"strconv"
	"time"

	"github.com/sluice-gateway/sluice/core"
)

// Outcomes of an attempt with a node, for the balancer.
const (
	outOK     uint8 = iota // a whole response
	outFail                // the node refused, reset, timed out or answered badly
	outCancel              // ended for a reason that says nothing about the node
)

// doneNode reports the outcome of the attempt in flight, once.
func (c *conn) doneNode(out uint8) {
	x := c.exchange
	if x == nil || x.node < 0 || x.bal == nil {
		return
	}
	lat := time.Duration(-1)
	if out != outCancel && !x.pickAt.IsZero() {
		lat = time.Since(x.pickAt)
	}
	x.bal.Done(c.loop.ID, x.node, lat, out == outFail)
	x.node = -1
	x.pickAt = time.Time{}
}

// hashKey builds the request's chash key in the exchange's scratch buffer.
// An empty key (an absent header, cookie or argument) falls back to the
// client address, as APISIX does.
func (c *conn) hashKey(h *core.HashKey) []byte {
	k := c.hkey[:0]
	for i := range h.Parts {
		k = c.appendVar(k, &h.Parts[i])
	}
	if len(k) == 0 {
		k = append(k, c.ip...)
	}
	c.hkey = k
	return k
}

func (c *conn) appendVar(k []byte, p *core.HashPart) []byte {
	switch p.Src {
	case core.HashLiteral:
		return append(k, p.Name...)
	case core.HashRemoteAddr:
		return append(k, c.ip...)
	case core.HashRemotePort:
		return strconv.AppendUint(k, uint64(c.remote.Port()), 10)
	case core.HashServerAddr:
		return c.local.Addr().AppendTo(k)
	case core.HashServerPort:
		return strconv.AppendUint(k, uint64(c.local.Port()), 10)
	case core.HashURI:
		return append(k, c.req.Path()...)
	case core.HashRequestURI:
		return append(k, c.req.Target()...)
	case core.HashQueryString:
		return append(k, c.req.Query()...)
	case core.HashHost:
		return append(k, c.rreq.Host...)
	case core.HashMethod:
		return append(k, c.req.Method()...)
	case core.HashArg:
		v, _ := queryArg(c.req.Query(), p.Name)
		return append(k, v...)
	case core.HashHeader:
		v, _ := c.req.Get(p.Name)
		return append(k, v...)
	case core.HashCookie:
		v, _ := c.req.Get("Cookie")
		v, _ = cookieValue(v, p.Name)
		return append(k, v...)
	}
	return k
}

// queryArg is the first value of name in a query string, undecoded.
func queryArg(q []byte, name string) ([]byte, bool) {
	for len(q) > 0 {
		var pair []byte
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			pair, q = q, nil
		}
		k, v := pair, []byte(nil)
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			k, v = pair[:i], pair[i+1:]
		}
		if string(k) == name {
			return v, true
		}
	}
	return nil, false
}

// cookieValue finds name in a Cookie field value ("a=1; b=2").
func cookieValue(h []byte, name string) ([]byte, bool) {
	for len(h) > 0 {
		var pair []byte
		if i := bytes.IndexByte(h, ';'); i >= 0 {
			pair, h = h[:i], h[i+1:]
		} else {
			pair, h = h, nil
		}
		pair = bytes.TrimLeft(pair, " \t")
		if i := bytes.IndexByte(pair, '='); i >= 0 && string(bytes.TrimRight(pair[:i], " \t")) == name {
			return bytes.TrimSpace(pair[i+1:]), true
		}
	}
	return nil, false
}
