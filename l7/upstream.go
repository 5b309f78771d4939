package l7

import (
	"net/netip"
	"syscall"
	"time"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/core"
	"golang.org/x/sys/unix"
)

// Upstream connection states.
const (
	upConnecting uint8 = iota
	upSend             // writing the request head and body
	upHead             // reading the response head
	upBody             // streaming the response body to the client
	upIdle             // in the loop's keep-alive pool
	upClosed
)

// idlePool is one loop's idle keep-alive connections to one node, most
// recently used last (LIFO keeps the warmest connection busy and lets the
// others time out). Its bound is the keepalive_pool size of the upstream a
// returning connection served (core.KeepalivePolicy).
type idlePool struct {
	conns []*upConn
}

func (ls *loopState) pool(node netip.AddrPort) *idlePool {
	p := ls.pools[node]
	if p == nil {
		p = &idlePool{}
		ls.pools[node] = p
	}
	return p
}

func (p *idlePool) get() *upConn {
	if n := len(p.conns); n > 0 {
		u := p.conns[n-1]
		p.conns[n-1] = nil
		p.conns = p.conns[:n-1]
		return u
	}
	return nil
}

func (p *idlePool) remove(u *upConn) {
	for i, x := range p.conns {
		if x == u {
			last := len(p.conns) - 1
			p.conns[i] = p.conns[last]
			p.conns[last] = nil
			p.conns = p.conns[:last]
			return
		}
	}
}

// upConn is one connection to an upstream node. It serves one request at a
// time for the client conn attached to it, and rests in its node's pool
// between requests; a connection goes back to the pool only after a
// complete response.
type upConn struct {
	loop     *core.Loop
	ls       *loopState
	node     netip.AddrPort
	fd       int
	readable bool
	writable bool
	finSeen  bool // EPOLLRDHUP: the node's FIN is queued behind its data
	// ownsEdges: a read returned EAGAIN since the connect handler gave the
	// socket up, so a short read now proves the socket drained.
	ownsEdges bool
	state     uint8
	c         *conn
	connect   core.Connect
	timer     core.Timer
	active    int64
	to        timeouts
	reused    bool
	served    int  // requests answered on this connection (keepalive_pool.requests)
	timedOut  bool // the current attempt ended on the send or read timeout
	sent      bool // a byte of the current request reached the node
	reqDone   bool // the whole request reached the node
	gotResp   bool // a byte of the response arrived

	in         []byte
	start, end int
	resp       codec.Response
	body       codec.Body
	hw         codec.HeadWriter
	out        [][]byte
	outStore   [1][]byte
	iov        [64]unix.Iovec
}

func newUpConn(l *core.Loop, ls *loopState, node netip.AddrPort) *upConn {
	return &upConn{loop: l, ls: ls, node: node, fd: -1}
}

func (u *upConn) dial(timeout time.Duration) {
	u.state = upConnecting
	u.connect.Start(u.loop, u.node, timeout, u)
}

// OnConnect is the end of dial.
func (u *upConn) OnConnect(fd int, err error) {
	c := u.c
	if err != nil {
		u.state = upClosed
		c.up = nil
		r := &resp502
		if err == core.ErrConnectTimeout {
			r = &resp504
		}
		core.WarnOnce("l7-connect-"+u.node.String()+err.Error(), "l7: upstream %s: %v", u.node, err)
		c.healthFailure(err == core.ErrConnectTimeout)
		c.doneNode(outFail)
		c.connectUpstream(r)
		return
	}
	u.fd = fd
	u.loop.SetHandler(fd, u)
	u.readable, u.writable = true, true
	u.startRequest()
}

// attach gives a pooled connection the client's request.
func (u *upConn) attach(c *conn) {
	u.loop.Timers().Disarm(&u.timer)
	u.c = c
	u.reused = true
	u.startRequest()
}

func (u *upConn) startRequest() {
	c := u.c
	u.state = upSend
	u.sent, u.reqDone, u.gotResp, u.timedOut = false, false, false, false
	u.to = c.tgt.to
	u.resp.Reset()
	u.resp.RequestMethod = c.sentMethod()
	// The writer's own iovec storage: valid until u.hw writes the response
	// head, which happens only after the request is out.
	u.out = u.hw.Request(&c.req, &c.edits)
	c.start += c.headLen
	u.active = u.loop.Timers().Ticks()
	u.loop.Timers().Arm(&u.timer, u.to.send, u)
	u.progress()
}

func (u *upConn) OnEvent(ev uint32) {
	if ev&core.EvIn != 0 {
		u.readable = true
	}
	if ev&unix.EPOLLRDHUP != 0 {
		u.finSeen = true
	}
	if ev&core.EvOut != 0 {
		u.writable = true
	}
	if u.state == upIdle {
		// An idle connection has nothing to say: data or EOF both end it.
		// The flag may be left over from the last response, so ask the socket.
		if u.readable {
			var b [1]byte
			if _, e := core.Read(u.fd, b[:]); e == syscall.EAGAIN {
				u.readable = false
				return
			}
			u.close()
		}
		return
	}
	u.progress()
}

// OnTimer is the send/read deadline, or the pool's idle timeout.
func (u *upConn) OnTimer(*core.Timer) {
	switch u.state {
	case upIdle:
		u.close()
	case upSend, upHead, upBody:
		limit := u.to.read
		if u.state == upSend {
			limit = u.to.send
		}
		idle := time.Duration(u.loop.Timers().Ticks()-u.active) * core.WheelTick
		if left := limit - idle; left > 0 {
			u.loop.Timers().Arm(&u.timer, left, u)
			return
		}
		core.WarnOnce("l7-timeout-"+u.node.String(), "l7: upstream %s: timed out after %v", u.node, limit)
		// Like nginx's proxy_next_upstream timeout: another node may be
		// tried while nothing of the answer came, if the request can be
		// sent again (failed checks).
		u.timedOut = true
		u.failed(&resp504, !u.gotResp)
	}
}

// progress moves the exchange as far as the sockets allow.
func (u *upConn) progress() {
	c := u.c
	for u.state == upSend {
		if !u.flushOut() {
			return
		}
		if c.reqBody.Done() {
			u.state = upHead
			u.reqDone = true
			u.active = u.loop.Timers().Ticks()
			u.loop.Timers().Arm(&u.timer, u.to.read, u)
			if c.timer.Armed() {
				u.loop.Timers().Disarm(&c.timer) // the body timer
			}
			break
		}
		chunk, ok := c.bodyChunk()
		if !ok || c.up != u {
			return // the client failed or went away; it has dealt with u
		}
		if chunk == nil {
			// Waiting for the client: meanwhile the node may answer, with a
			// 100 Continue the client waits for, or early with a final status.
			u.readResponse()
			return
		}
		u.outStore[0] = chunk
		u.out = u.outStore[:1]
	}
	if u.state == upHead || u.state == upBody {
		u.readResponse()
	}
}

// parsingHead: the response head is awaited (also while the request is still
// being sent).
func (u *upConn) parsingHead() bool { return u.state == upHead || u.state == upSend }

// flushOut writes the queued request bytes; true when all are out.
func (u *upConn) flushOut() bool {
	for len(u.out) > 0 {
		if !u.writable {
			return false
		}
		n, e := core.Writev(u.fd, u.out, u.iov[:])
		switch e {
		case 0:
		case syscall.EAGAIN:
			u.writable = false
			return false
		case syscall.EINTR:
			continue
		default:
			u.failed(&resp502, true)
			return false
		}
		if n > 0 {
			u.sent = true
			u.active = u.loop.Timers().Ticks()
		}
		u.out = core.Advance(u.out, n)
	}
	u.out = nil
	return true
}

func (u *upConn) readResponse() {
	c := u.c
	for {
		if u.parsingHead() && u.start < u.end {
			n, err := u.resp.Parse(u.in[u.start:u.end])
			switch {
			case err == nil:
				if !u.onHead(n) {
					return
				}
				continue
			case err != codec.ErrNeedMore:
				core.WarnOnce("l7-badresp-"+u.node.String(), "l7: upstream %s sent an invalid response: %v", u.node, err)
				u.failed(&resp502, false)
				return
			case u.start == 0 && u.end == len(u.in):
				core.WarnOnce("l7-bighead-"+u.node.String(), "l7: upstream %s: response head larger than the buffer", u.node)
				u.failed(&resp502, false)
				return
			}
		}
		if u.state == upBody {
			if c.bodyFilter {
				if !u.filterBody() {
					return
				}
			} else if u.start < u.end {
				k, err := c.skipRespBody(&u.body, u.in[u.start:u.end])
				if err != nil && err != codec.ErrNeedMore {
					core.WarnOnce("l7-badbody-"+u.node.String(), "l7: upstream %s: bad response body framing: %v", u.node, err)
					u.failed(&resp502, false)
					return
				}
				if k > 0 {
					c.queue(u.in[u.start : u.start+k])
					u.start += k
				}
			}
			if !c.flush() {
				return // resumed when the client can take more
			}
			if u.body.Done() {
				u.complete()
				return
			}
		}
		if len(c.out) > 0 && !c.flush() {
			return // views into in are still queued for the client
		}
		if !u.fill() {
			return
		}
	}
}

// onHead handles a parsed response head of n bytes; false means stop.
func (u *upConn) onHead(n int) bool {
	c := u.c
	st := u.resp.Status()
	if u.resp.Interim() {
		// 100 Continue and friends pass through; the final answer follows.
		c.queue(u.in[u.start : u.start+n])
		u.start += n
		u.resp.Reset()
		u.resp.RequestMethod = c.sentMethod()
		return true
	}
	if st == 101 {
		if !c.edits.Tunnel {
			u.failed(&resp502, false)
			return false
		}
		c.queue(u.hw.Response(&u.resp, nil)...)
		u.start += n
		u.tunnel()
		return false
	}
	c.respStarted = true
	c.healthStatus(st)
	u.body.Reset(u.resp.Framing(), codec.Limits{})
	if u.body.Kind() == codec.BodyUntilClose || c.ls.draining {
		c.closeAfter = true
	}
	if u.state == upSend {
		// A final answer before the whole request went out: the rest of the
		// body is abandoned, so neither connection can carry another request.
		c.closeAfter = true
		u.out = nil
	}
	var e *codec.Edits
	if c.plugged {
		e = c.filterHead(&u.resp) // may set closeAfter
	}
	if c.closeAfter {
		if e == nil {
			e = &c.edits
			e.Reset()
		}
		e.Set(hdrConnection, valClose)
	}
	c.queue(u.hw.Response(&u.resp, e)...)
	u.start += n
	u.state = upBody
	return true
}

// fill reads from the node; false means nothing more now.
func (u *upConn) fill() bool {
	if !u.readable {
		return false
	}
	if u.in == nil {
		u.in = u.loop.GetBuf()
		u.start, u.end = 0, 0
	}
	if u.start == u.end {
		u.start, u.end = 0, 0
	} else if u.end == len(u.in) {
		u.end = copy(u.in, u.in[u.start:u.end])
		u.start = 0
	}
	n, e := core.Read(u.fd, u.in[u.end:])
	switch {
	case e == syscall.EAGAIN:
		u.readable = false
		u.ownsEdges = true
		return false
	case e == syscall.EINTR:
		return true
	case e != 0 || n == 0:
		u.readable = false
		u.ended(e)
		return false
	}
	// A short read drained the socket, unless a FIN is queued behind the data
	// or the connect handler saw this socket's first events.
	u.readable = n == len(u.in)-u.end || u.finSeen || !u.ownsEdges
	u.end += n
	u.gotResp = true
	u.active = u.loop.Timers().Ticks()
	return true
}

// ended handles the node's FIN or reset.
func (u *upConn) ended(e syscall.Errno) {
	c := u.c
	if u.state == upBody && u.body.Kind() == codec.BodyUntilClose && e == 0 {
		c.closeAfter = true
		u.complete()
		return
	}
	if u.state == upBody {
		c.state = stDone // a truncated answer: the client must see the close
	}
	// Nothing of the answer arrived: another node (or, for a pooled
	// connection the node had closed, the same one) may be tried when the
	// request can be sent again (nginx's proxy_next_upstream error).
	retry := !u.gotResp && u.state != upBody
	u.failed(&resp502, retry)
}

// failed ends the exchange on this connection with r, retrying on another
// connection when retry allows and the request can be replayed.
func (u *upConn) failed(r *cannedResponse, retry bool) {
	c := u.c
	u.close()
	if c == nil || c.up != u {
		return
	}
	c.up = nil
	node := c.node // doneNode forgets it
	// A pooled connection the node closed before answering is stale, not
	// the node's fault; a timeout always is.
	stale := u.reused && retry && !u.gotResp && !u.timedOut
	if stale {
		c.doneNode(outCancel) // a stale pooled connection is not the node's fault
	} else {
		c.healthFailure(r == &resp504)
		c.doneNode(outFail)
	}
	if c.state == stDone || c.respStarted {
		c.abort()
		return
	}
	if retry && u.sent && !replayable(c) {
		retry = false
	}
	if !retry && u.sent {
		c.fail(r)
		return
	}
	// Send it again: startRequest consumed the head, which is still in the
	// buffer (nothing after it was consumed, or replayable said no).
	c.start -= c.headLen
	if stale {
		// A pooled connection the node had closed is not the node's fault:
		// the same node may be tried again, on another connection. Bounded:
		// only pooled connections get this second chance.
		c.tries--
		if node >= 0 && node < 64 {
			c.tried &^= 1 << node
		}
	}
	c.connectUpstream(r)
}

// replayable: the request can be sent again after bytes of it went out: it
// is idempotent and has no body, so its head in the buffer is all of it.
func replayable(c *conn) bool {
	switch c.req.MethodID() {
	case codec.MethodGet, codec.MethodHead, codec.MethodOptions, codec.MethodTrace, codec.MethodPut, codec.MethodDelete:
	default:
		return false
	}
	return c.req.Framing().Kind == codec.BodyNone
}

// complete ends an exchange whose response is whole: pool the connection if
// it can serve again, and let the client go on.
func (u *upConn) complete() {
	c := u.c
	c.up = nil
	c.doneNode(outOK)
	u.c = nil
	u.served++
	ka := &c.ups.Keepalive
	if u.resp.KeepAlive() && u.reqDone && u.start == u.end && u.body.Kind() != codec.BodyUntilClose && u.served < ka.Requests {
		u.toPool(ka)
	} else {
		u.close()
	}
	c.finish()
}

// toPool rests the connection in its node's pool, or closes it when the
// pool already holds ka.Size.
func (u *upConn) toPool(ka *core.KeepalivePolicy) {
	p := u.ls.pool(u.node)
	if len(p.conns) >= ka.Size {
		u.close()
		return
	}
	u.state = upIdle
	if u.in != nil {
		u.loop.PutBuf(u.in)
		u.in = nil
	}
	u.start, u.end = 0, 0
	p.conns = append(p.conns, u)
	if ka.Idle > 0 {
		u.loop.Timers().Arm(&u.timer, ka.Idle, u)
	} else {
		u.loop.Timers().Disarm(&u.timer)
	}
}

// discard drops the connection, mid-exchange (the client went away).
func (u *upConn) discard() {
	u.c = nil
	u.close()
}

func (u *upConn) close() {
	if u.state == upClosed {
		return
	}
	if u.state == upIdle {
		u.ls.pool(u.node).remove(u)
	}
	if u.state == upConnecting {
		u.connect.Cancel()
	}
	u.state = upClosed
	u.loop.Timers().Disarm(&u.timer)
	if u.in != nil {
		u.loop.PutBuf(u.in)
		u.in = nil
	}
	u.out = nil
	if u.fd >= 0 {
		u.loop.Close(u.fd)
		u.fd = -1
	}
}

// tunnel turns the client and node connections into a relay after a 101,
// carrying over bytes either side already sent.
func (u *upConn) tunnel() {
	c := u.c
	var toClient []byte
	for _, b := range c.out {
		toClient = append(toClient, b...)
	}
	toClient = append(toClient, u.in[u.start:u.end]...)
	var toNode []byte
	if c.start < c.end {
		toNode = append(toNode, c.in[c.start:c.end]...)
	}
	c.out = c.out[:0]
	u.loop.Timers().Disarm(&u.timer)
	u.loop.Timers().Disarm(&c.timer)
	if u.in != nil {
		u.loop.PutBuf(u.in)
		u.in = nil
	}
	c.start, c.end = 0, 0
	c.release()
	cfd, ufd := c.fd, u.fd
	c.state, u.state = stDone, upClosed
	delete(c.ls.conns, c) // the relay owns both sockets now
	c.up, u.c, u.fd = nil, nil, -1
	loop := u.loop
	opts := &c.ups.Stream
	if c.plugged {
		c.pc.Status = 101
	}
	c.doneNode(outOK)
	c.detach()
	if _, err := core.NewRelayWith(loop, cfd, ufd, opts, func(*core.Relay, error) { loop.Conns.Add(-1) }, toNode, toClient); err != nil {
		core.Errorf("l7: tunnel: %v", err)
	}
}

// sentMethod is the method the upstream received (a plugin may have
// changed it): a HEAD's answer has no body.
func (c *conn) sentMethod() codec.Method {
	if m := c.edits.NewMethod(); m != nil {
		return codec.MethodOf(m)
	}
	return c.req.MethodID()
}
