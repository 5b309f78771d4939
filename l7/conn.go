package l7

import (
	"bytes"
	"net/netip"
	"syscall"
	"time"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/route"
	"golang.org/x/sys/unix"
)

// Client connection states.
const (
	stIdle  uint8 = iota // between requests: no buffer held
	stHead               // reading a request head
	stProxy              // an exchange with an upstream is in progress
	stClose              // flushing a last answer, then closing
	stPause              // a plugin paused the request; the timer resumes it
	stDone
)

// conn is one client connection. It carries one request at a time; pipelined
// requests wait in its buffer (or the kernel's) until the answer before them
// has been written, so answers go out in order.
//
// Buffer ownership: in holds the client's unconsumed bytes [start:end] and
// is borrowed from the loop only while there are some, so an idle keep-alive
// connection holds no buffer. While bytes of in are queued for the upstream
// (up.out), the client is not read, which is also the request-body flow
// control. Likewise the response: while bytes are queued for the client
// (out), the upstream is not read.
type conn struct {
	srv           *Server
	loop          *core.Loop
	ls            *loopState
	fd            int
	local, remote netip.AddrPort
	readable      bool
	writable      bool
	finSeen       bool // EPOLLRDHUP: the client's FIN is queued behind its data
	state         uint8
	nreq          int
	timer         core.Timer
	active        int64
	ip            []byte // client address, text

	in         []byte
	start, end int

	// *exchange is the per-request state, attached only while a request is
	// in flight: an idle keep-alive connection is just the fields above.
	*exchange
}

// exchange is everything one request/response needs; loops keep a free list.
type exchange struct {
	req     codec.Request
	reqBody codec.Body
	headLen int
	rreq    route.Request
	match   route.Match
	tgt     *target
	over    target              // tgt for an upstream a plugin chose (retarget)
	nodes   *core.UpstreamNodes // the upstream's nodes when the request began
	up      *upConn
	tries   int
	tried   uint64
	firstAt int64 // loop tick of the first attempt, for retry_timeout
	// bal and node are the balancer and the node picked for the current
	// attempt (node -1: none, or its outcome is reported); pickAt is when,
	// for ewma. hkey is the chash key's scratch.
	bal    *core.Balancer
	node   int
	pickAt time.Time
	hkey   []byte
	// closeAfter: answer this request, then close (client asked, or the
	// response cannot delimit itself otherwise).
	closeAfter bool
	// respStarted: bytes of the upstream's answer reached the client, so an
	// error can no longer be turned into a status.
	respStarted bool

	out      [][]byte
	outStore [32][]byte
	iov      [64]unix.Iovec

	edits codec.Edits
	xff   []byte
	host  []byte

	// Plugins: the request's context, and the variables it reads. ups is
	// the upstream in use (the route's, or one a plugin chose).
	pc         plugin.Ctx
	vars       plugin.RequestVars
	ups        *core.UpstreamSet
	plugged    bool // the route has a chain: pc is live
	logged     bool
	pluginHost bool // a plugin set Host: pass_host leaves it
	bodyFilter bool // the response body goes through body filters
	bodyEnded  bool
	resp       []byte // a plugin's stop answer
	fbuf       []byte // filtered body, framed
}

func (c *conn) attach() {
	if c.exchange != nil {
		return
	}
	if n := len(c.ls.free); n > 0 {
		c.exchange = c.ls.free[n-1]
		c.ls.free = c.ls.free[:n-1]
	} else {
		c.exchange = &exchange{node: -1}
		c.req.Limits = c.srv.opts.Limits
		c.vars.Req = &c.req
		c.vars.Ctx = &c.pc
		c.rreq.Vars = &c.vars
	}
}

func (c *conn) detach() {
	x := c.exchange
	if x == nil {
		return
	}
	c.doneNode(outCancel)
	c.logPlugins()
	c.exchange = nil
	x.tgt, x.nodes, x.up, x.bal, x.ups = nil, nil, nil, nil, nil
	x.plugged, x.bodyFilter, x.bodyEnded, x.pluginHost = false, false, false, false
	x.pc.Reset(nil)
	x.out = nil
	x.rreq.Method, x.rreq.Path, x.rreq.Host = nil, nil, nil
	if len(c.ls.free) < 1024 {
		c.ls.free = append(c.ls.free, x)
	}
}

func (c *conn) init() {
	c.readable, c.writable = true, true
	c.ip = c.remote.Addr().AppendTo(nil)
	c.state = stIdle
	c.loop.Timers().Arm(&c.timer, c.srv.opts.KeepaliveTimeout, c)
}

func (c *conn) OnEvent(ev uint32) {
	if ev&core.EvIn != 0 {
		c.readable = true
	}
	if ev&unix.EPOLLRDHUP != 0 {
		c.finSeen = true
	}
	if ev&core.EvOut != 0 {
		c.writable = true
	}
	c.run()
}

func (c *conn) run() {
	switch c.state {
	case stIdle, stHead:
		c.readHead()
	case stProxy:
		if !c.flush() {
			return
		}
		if c.up != nil {
			c.up.progress()
		} else {
			c.finish() // a proxy-made answer (404) went out in pieces
		}
	case stClose:
		if c.flush() {
			c.close()
		}
	}
	// stPause: the client is not read until the plugin's delay is over.
}

// OnTimer enforces the deadline of the current state.
func (c *conn) OnTimer(*core.Timer) {
	switch c.state {
	case stIdle:
		c.close()
	case stHead:
		c.answer(&resp408, true)
	case stProxy:
		// Only armed while a request body streams in: a stalled client.
		idle := time.Duration(c.loop.Timers().Ticks()-c.active) * core.WheelTick
		if left := c.srv.opts.BodyTimeout - idle; left > 0 {
			c.loop.Timers().Arm(&c.timer, left, c)
			return
		}
		c.abort()
	case stClose:
		c.close()
	case stPause:
		c.state = stProxy
		c.proceed()
	}
}

func (c *conn) borrow() {
	if c.in == nil {
		c.in = c.loop.GetBuf()
		c.start, c.end = 0, 0
	}
}

// release gives the buffer back when it holds nothing.
func (c *conn) release() {
	if c.in != nil && c.start == c.end {
		c.loop.PutBuf(c.in)
		c.in = nil
		c.start, c.end = 0, 0
	}
}

// fill reads from the client into in; false means nothing more now (or the
// connection ended, which it handles).
func (c *conn) fill() bool {
	if !c.readable {
		return false
	}
	c.borrow()
	if c.end == len(c.in) {
		if c.start == 0 {
			return false // full: the caller decides
		}
		c.end = copy(c.in, c.in[c.start:c.end])
		c.start = 0
	}
	n, e := core.Read(c.fd, c.in[c.end:])
	switch {
	case e == syscall.EAGAIN:
		c.readable = false
		return false
	case e == syscall.EINTR:
		return true
	case e != 0 || n == 0:
		c.readable = false
		c.peerGone()
		return false
	}
	// A short read drained the socket; edge-triggered epoll reports whatever
	// arrives next, so don't spend a read on EAGAIN (nginx does the same).
	c.readable = n == len(c.in)-c.end || c.finSeen
	c.end += n
	c.active = c.loop.Timers().Ticks()
	return true
}

// peerGone handles the client's FIN or reset.
func (c *conn) peerGone() {
	if c.state == stProxy && c.exchange != nil && c.up != nil {
		c.up.discard()
		c.up = nil
		c.doneNode(outCancel)
	}
	c.close()
}

func (c *conn) readHead() {
	for {
		if c.start < c.end {
			if c.state == stIdle {
				c.state = stHead
				c.attach()
				c.req.Reset()
				c.loop.Timers().Arm(&c.timer, c.srv.opts.HeadTimeout, c)
			}
			n, err := c.req.Parse(c.in[c.start:c.end])
			if err == nil {
				c.headLen = n
				c.begin()
				return
			}
			if err != codec.ErrNeedMore {
				c.answer(requestError(err), true)
				return
			}
			if c.start == 0 && c.end == len(c.in) {
				c.answer(&resp431, true) // the head does not fit the buffer
				return
			}
		}
		if !c.fill() {
			if c.state == stIdle {
				c.release()
			}
			return
		}
	}
}

// begin routes a parsed request and starts its exchange.
func (c *conn) begin() {
	c.nreq++
	snap := c.srv.store.Load()
	tbl, _ := snap.HTTP.(*table)
	host := c.req.Host()
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host[i:], ']') < 0 {
		host = host[:i]
	}
	c.rreq.Method = c.req.Method()
	c.rreq.Path = c.req.Path()
	c.rreq.Host = host
	c.rreq.RemoteAddr = c.remote.Addr()
	c.vars.Local, c.vars.Remote = c.local, c.remote
	c.vars.Body = c.bufferedBody()
	var rt *route.Route
	if tbl != nil {
		rt = tbl.t.Lookup(&c.rreq, &c.match)
	}
	c.reqBody.Reset(c.req.Framing(), c.srv.opts.Limits)
	if rt == nil {
		// A body we did not read would be taken for the next request.
		c.answer(&resp404, !c.reqBody.Done() || !c.req.KeepAlive())
		return
	}
	c.tgt = rt.Value.(*target)
	c.ups, c.nodes = c.tgt.up, nil // nodes: loaded by the first attempt, after plugins may change ups
	c.closeAfter = !c.req.KeepAlive() || c.ls.draining || (c.srv.opts.MaxRequests > 0 && c.nreq >= c.srv.opts.MaxRequests)
	c.respStarted = false
	c.tries, c.tried = 0, 0
	c.state = stProxy
	c.loop.Timers().Disarm(&c.timer)
	c.buildEdits()
	if c.tgt.chain != nil {
		c.startPlugins()
	}
	c.proceed()
}

// buildEdits prepares what the proxy changes in the request head.
func (c *conn) buildEdits() {
	e := &c.edits
	e.Reset()
	c.xff = c.xff[:0]
	if prev, ok := c.req.Get("X-Forwarded-For"); ok && len(prev) > 0 {
		c.xff = append(append(c.xff, prev...), commaSpace...)
	}
	c.xff = append(c.xff, c.ip...)
	e.Set(hdrXFF, c.xff)
	e.Set(hdrXRealIP, c.ip)
	e.Set(hdrXFProto, valHTTP)
	if _, ok := c.req.Get("X-Forwarded-Host"); !ok {
		e.Set(hdrXFHost, c.req.Host())
	}
	if c.req.Upgrade() && c.tgt.ws {
		e.Tunnel = true
	}
}

// setHost applies pass_host for the node about to be used.
func (c *conn) setHost(node netip.AddrPort) {
	if c.pluginHost {
		return
	}
	switch c.tgt.passHost {
	case passHostNode:
		c.host = node.AppendTo(c.host[:0])
		c.edits.SetHost(c.host)
	case passHostRewrite:
		c.edits.SetHost(c.tgt.host)
	}
}

// connectUpstream picks a node and hands the request to a connection to it:
// an idle pooled one when there is one, else a new one.
func (c *conn) connectUpstream(lastErr *cannedResponse) {
	u := c.ups
	if u == nil {
		c.fail(&resp503NoUpstream) // a route whose plugins let the request through
		return
	}
	if c.nodes == nil {
		c.nodes = u.Nodes()
	}
	ns := c.nodes
	if len(ns.Addrs) == 0 {
		c.noAddress()
		return
	}
	if c.tries >= ns.Tries || (c.tries > 0 && c.retryExpired(u)) {
		c.fail(lastErr)
		return
	}
	if c.tries == 0 {
		c.firstAt = c.loop.Timers().Ticks()
	}
	c.doneNode(outCancel) // the last attempt's outcome is reported already; never leak a count
	var key []byte
	if ns.Bal.Hash != nil {
		key = c.hashKey(ns.Bal.Hash)
	}
	n := ns.Bal.Pick(c.loop.ID, key, c.tried)
	if n < 0 {
		c.fail(lastErr)
		return
	}
	c.bal, c.node = ns.Bal, n
	if ns.Bal.Kind() == core.BalanceEWMA {
		c.pickAt = time.Now()
	}
	c.tries++
	if n < 64 {
		c.tried |= 1 << n
	}
	node := ns.Addrs[n]
	c.setHost(node)
	if c.plugged {
		c.pc.Node = node
	}
	if up := c.ls.pool(node).get(); up != nil {
		c.up = up
		up.attach(c)
		return
	}
	up := newUpConn(c.loop, c.ls, node)
	c.up = up
	up.c = c
	up.dial(c.tgt.to.connect)
}

// fail answers an exchange that found no upstream.
func (c *conn) fail(r *cannedResponse) {
	if r == nil {
		r = &resp502
	}
	c.up = nil
	c.doneNode(outCancel)
	if c.respStarted {
		c.abort()
		return
	}
	c.answer(r, true)
}

// answer sends a canned response; with close, the connection closes after.
func (c *conn) answer(r *cannedResponse, close bool) {
	if c.plugged && c.pc.Status == 0 {
		c.pc.Status = r.status
	}
	b := r.keep
	if close {
		b = r.close
	}
	c.answerBytes(b, close)
}

// answerBytes sends a whole answer, b; with close, the connection closes
// after.
func (c *conn) answerBytes(b []byte, close bool) {
	if c.up != nil {
		c.up.discard()
		c.up = nil
		c.doneNode(outCancel)
	}
	c.loop.Timers().Disarm(&c.timer)
	if close {
		c.state = stClose
		c.start, c.end = 0, 0 // nothing more is read from this client
		c.queue(b)
		// The client may be slow to take the answer; don't wait forever.
		c.loop.Timers().Arm(&c.timer, c.srv.opts.HeadTimeout, c)
		if c.flush() {
			c.close()
		}
		return
	}
	c.start += c.headLen
	c.queue(b)
	c.state = stProxy // flush, then finish like any exchange
	if c.flush() {
		c.finish()
	} else {
		c.up = nil
	}
}

func (c *conn) queue(b ...[]byte) {
	if len(c.out) == 0 {
		c.out = c.outStore[:0] // Advance walked it along the array; start over
	}
	c.out = append(c.out, b...)
}

// flush writes what is queued for the client; true when nothing is left.
func (c *conn) flush() bool {
	for len(c.out) > 0 {
		if !c.writable {
			return false
		}
		n, e := core.Writev(c.fd, c.out, c.iov[:])
		switch e {
		case 0:
		case syscall.EAGAIN:
			c.writable = false
			return false
		case syscall.EINTR:
			continue
		default:
			c.out = c.out[:0]
			c.peerGone()
			return false
		}
		c.out = core.Advance(c.out, n)
		if c.exchange != nil && c.plugged {
			c.pc.BytesOut += int64(n)
		}
	}
	c.out = c.outStore[:0]
	return true
}

// finish ends an exchange whose answer is fully written: next request, or
// idle, or close.
func (c *conn) finish() {
	c.tgt, c.nodes = nil, nil
	if c.closeAfter || c.state == stDone || c.ls.draining {
		c.close()
		return
	}
	c.state = stIdle
	c.detach()
	c.release()
	c.loop.Timers().Arm(&c.timer, c.srv.opts.KeepaliveTimeout, c)
	if c.start < c.end || c.readable {
		c.readHead() // a pipelined request, or bytes arrived meanwhile
	}
}

// abort drops the connection mid-exchange.
func (c *conn) abort() {
	if c.exchange != nil && c.up != nil {
		c.up.discard()
		c.up = nil
		c.doneNode(outCancel)
	}
	c.close()
}

func (c *conn) close() {
	if c.state == stDone {
		return
	}
	c.state = stDone
	c.loop.Timers().Disarm(&c.timer)
	c.start, c.end = 0, 0
	c.release()
	c.detach()
	c.loop.Close(c.fd)
	delete(c.ls.conns, c)
	c.loop.Conns.Add(-1)
}

// Request-body streaming: called by the upstream side when it can take more.

// bodyChunk returns the next run of buffered request-body bytes and consumes
// them; nil when none is buffered. It reads the client as needed.
func (c *conn) bodyChunk() ([]byte, bool) {
	for {
		if c.start < c.end {
			n, err := c.skipReqBody(c.in[c.start:c.end])
			if err != nil && err != codec.ErrNeedMore {
				c.answer(requestError(err), true)
				return nil, false
			}
			if n > 0 {
				b := c.in[c.start : c.start+n]
				c.start += n
				return b, true
			}
			if c.reqBody.Done() {
				return nil, true
			}
		}
		if c.reqBody.Done() {
			return nil, true
		}
		if !c.timer.Armed() {
			c.loop.Timers().Arm(&c.timer, c.srv.opts.BodyTimeout, c)
		}
		if c.start == c.end {
			c.start, c.end = 0, 0
		}
		if !c.fill() {
			if c.state != stProxy {
				return nil, false
			}
			if c.end == len(c.in) && c.start == 0 {
				c.answer(&resp400, true) // a framing line longer than the buffer
				return nil, false
			}
			return nil, true
		}
	}
}
