package plugin

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/route"
)

// noCopy lets go vet flag copies of a Ctx, which holds views.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// Ctx is one request's (or stream's) state as the hooks see it. The server
// owns it, one per connection, and resets it for each request: a hook must
// not keep it, or any slice it hands out, past the call.
//
// Views (Req, Route, the slices the getters return) point into the
// connection's buffers and are valid during the hook call.
type Ctx struct {
	_ noCopy

	// Req is the parsed request head; nil for a stream.
	Req *codec.Request
	// Route is the request as the router saw it (method, path, host,
	// client address, and the variables of vars expressions); Match is the
	// router's scratch and captured parameters.
	Route *route.Request
	Match *route.Match
	// Edits change the request head the upstream receives: fields set,
	// added or removed, a new target (path and query) or Host. The values
	// must stay valid until the request is sent: use constants kept by the
	// instance, or bytes from Alloc.
	Edits *codec.Edits
	// RespEdits change the response head the client receives, whether it
	// comes from the upstream or from a stop. Same lifetime rule as Edits.
	RespEdits codec.Edits

	Remote, Local netip.AddrPort
	// RouteID and ServiceID name what matched ("" when none).
	RouteID, ServiceID string
	// RouteMeta describes the matched route for log plugins (nil when the
	// server does not know it); the server compiles one per route.
	RouteMeta *RouteMeta
	// Consumer is set by the authentication plugin that identified the
	// requester.
	Consumer *Consumer
	// Loop is the index of the event loop serving the request: plugins
	// with per-loop state (counters without atomics) index by it.
	Loop int
	// Sampled says this request's hooks are timed for the per-plugin cost
	// metrics; the server samples a fixed share of requests.
	Sampled bool

	// Upstream, when a hook sets it (traffic-split), replaces the route's
	// upstream for this request.
	Upstream *core.UpstreamSet
	// Node is the upstream node that served the request, once known.
	Node netip.AddrPort

	// Response side, for header_filter and log: the final status (the
	// upstream's, or the stop's), the upstream's response head (nil when
	// the gateway answered itself).
	Status int
	Resp   *codec.Response
	// Start is when the request head was parsed; UpstreamStart when the
	// request began on its way upstream, UpstreamDone when the response
	// head arrived (zero if it did not). The server takes them, and End,
	// from its event loop's clock, read once per round of events (as
	// nginx's cached time): each is behind the true time by at most the
	// length of that round, and none costs a clock read.
	Start, UpstreamStart, UpstreamDone time.Time
	// End is when the exchange ended, set before the log hooks run so
	// that they share one clock reading (zero: a hook reads the clock).
	End time.Time
	// BytesIn and BytesOut count the client's bytes read and written for
	// this request (the head included), as far as the server counts them.
	BytesIn, BytesOut int64

	chain *Chain
	stage int
	next  int
	gen   uint32
	cur   uint16
	slots []slot
	arena []byte
	tmp   []byte
	caps  captures
	fDone uint64
	fPass uint64
}

type slot struct {
	v   any
	gen uint32
}

// Reset prepares c for a new request or stream on chain ch (nil: no
// plugins). The server sets the request fields after it.
func (c *Ctx) Reset(ch *Chain) {
	c.chain = ch
	c.gen++
	c.fDone, c.fPass = 0, 0
	c.stage, c.next = 0, 0
	c.arena = c.arena[:0]
	c.caps.reset()
	c.RespEdits.Reset()
	c.RouteID, c.ServiceID = "", ""
	c.RouteMeta, c.End = nil, time.Time{}
	c.Consumer, c.Upstream, c.Resp = nil, nil, nil
	c.Node = netip.AddrPort{}
	c.Status = 0
	c.BytesIn, c.BytesOut = 0, 0
	c.UpstreamStart, c.UpstreamDone = time.Time{}, time.Time{}
	if ch != nil && len(c.slots) < ch.nslots {
		c.slots = append(c.slots, make([]slot, ch.nslots-len(c.slots))...)
	}
}

// RouteMeta is what log plugins report about the matched route besides its
// id: the route's and its service's names (prometheus's prefer_name) and
// the uri and host patterns that matched (APISIX's matched_uri and
// matched_host; "" when the route has none, or several and the server
// cannot tell which one matched).
type RouteMeta struct {
	Name, ServiceName string
	URI, Host         string
}

// Chain is the chain the request runs (it changes once a consumer with
// plugins of its own is identified).
func (c *Ctx) Chain() *Chain { return c.chain }

// State returns the calling plugin's per-request state, a T that is zeroed
// at the first call of each request and kept across the request's phases.
// It is allocated once per connection and reused after.
func State[T any](c *Ctx) *T {
	s := &c.slots[c.cur]
	p, ok := s.v.(*T)
	if !ok {
		p = new(T)
		s.v = p
	} else if s.gen != c.gen {
		var zero T
		*p = zero
	}
	s.gen = c.gen
	return p
}

// Alloc returns n bytes valid until the request ends, for values put in
// Edits or RespEdits. Storage is reused across requests.
func (c *Ctx) Alloc(n int) []byte {
	if len(c.arena)+n > cap(c.arena) {
		// A new block: slices handed out before stay valid in the old one.
		c.arena = make([]byte, 0, max(2*cap(c.arena), n, 256))
	}
	l := len(c.arena)
	c.arena = c.arena[:l+n]
	return c.arena[l : l+n : l+n]
}

// Itoa formats v into request-lifetime storage.
func (c *Ctx) Itoa(v int64) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	b := c.Alloc(len(s))
	copy(b, s)
	return b
}

// Header returns the request header's first value (views into the request).
func (c *Ctx) Header(name string) ([]byte, bool) {
	if c.Req == nil {
		return nil, false
	}
	return c.Req.Get(name)
}

// Arg returns a query argument's first value, undecoded.
func (c *Ctx) Arg(name string) ([]byte, bool) {
	if c.Route == nil || c.Route.Vars == nil {
		return nil, false
	}
	return c.Route.Vars.Var(route.VarArg, name)
}

// Var is a request variable resolved at build time: APISIX's own context
// variables (consumer_name, route_id, service_id) and everything a vars
// expression can read.
type Var struct {
	special uint8
	rv      route.Var
	name    string
	arg     string // uri_param_'s parameter name
	num     int    // a capture's number
}

const (
	varRoute uint8 = iota
	varConsumer
	varRouteID
	varServiceID
	varStatus
	varUpstreamStatus
	varURIParam // uri_param_<name>
	varCapture  // $1...: regex captures (Ctx.SetCaptures)
	varBalancerIP
	varBalancerPort
	varUpstreamAddr
)

// ParseVar resolves a variable name once.
func ParseVar(name string) Var {
	v := Var{name: name}
	switch name {
	case "consumer_name":
		v.special = varConsumer
	case "route_id":
		v.special = varRouteID
	case "service_id":
		v.special = varServiceID
	case "status":
		v.special = varStatus
	case "upstream_status":
		v.special = varUpstreamStatus
	default:
		if !parseMoreVar(&v) {
			v.rv = route.ParseVar(name)
		}
	}
	return v
}

// Name is the variable's name as configured.
func (v *Var) Name() string { return v.name }

// Get reads v for this request. The value is a view, valid until the
// next Get.
func (c *Ctx) Get(v *Var) ([]byte, bool) {
	switch v.special {
	case varConsumer:
		if c.Consumer == nil {
			return nil, false
		}
		return c.Consumer.name, true
	case varRouteID:
		return viewOf(c.RouteID), c.RouteID != ""
	case varServiceID:
		return viewOf(c.ServiceID), c.ServiceID != ""
	case varStatus:
		return c.Itoa(int64(c.Status)), c.Status != 0
	case varUpstreamStatus:
		if c.Resp == nil {
			return nil, false
		}
		return c.Itoa(int64(c.Resp.Status())), true
	case varURIParam, varCapture, varBalancerIP, varBalancerPort, varUpstreamAddr:
		return c.getMoreVar(v)
	}
	if c.Route == nil {
		return nil, false
	}
	return v.rv.Get(c.Route, c.Match)
}

// Eval evaluates a compiled vars expression against the request.
func (c *Ctx) Eval(x *route.Expr) bool {
	if x == nil {
		return true
	}
	if c.Route == nil {
		return false
	}
	return x.Eval(c.Route, c.Match)
}
