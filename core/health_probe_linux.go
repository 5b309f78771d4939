package core

import (
	"net/netip"
	"syscall"

	"github.com/sluice-gateway/sluice/codec"
)

// Active probes. Every probe of a checker runs on the checker's loop: a
// timer says when the next one is due, a non-blocking connect and raw
// reads and writes do the work, and the loop's buffer pool lends a buffer
// only while a response is being read. An idle probe is a timer.

const (
	probeIdle       uint8 = iota // the timer is the next probe's due time
	probeQueued                  // due, waiting for a free slot (concurrency)
	probeConnecting              // connecting; the timer is the deadline
	probeSending                 // writing the request
	probeReading                 // reading the status line
	probeStopped
)

type probe struct {
	c     *checker
	n     *nodeHealth
	loop  *Loop
	cfg   *healthChecks
	to    netip.AddrPort
	req   []byte
	phase uint8
	timer Timer
	conn  Connect
	fd    int
	sent  int
	buf   []byte
	start int // where the current response head begins (after 1xx ones)
	end   int
	resp  codec.Response
}

// resync brings the loop's probes in line with the checker's nodes and
// config. Safe from any goroutine; does nothing before Start.
func (c *checker) resync() {
	c.mu.Lock()
	l := c.loop
	c.mu.Unlock()
	if l != nil {
		l.Post(func(any) error { c.sync(); return nil }, nil)
	}
}

// close stops the checker's probes; its views keep their last state.
func (c *checker) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.resync()
}

// sync runs on the checker's loop.
func (c *checker) sync() {
	c.mu.Lock()
	cfg, closed := c.cfg, c.closed
	nodes := append([]*nodeHealth(nil), c.nodes...)
	gone := c.gone
	c.gone = nil
	c.mu.Unlock()
	c.lcfg = cfg
	for _, n := range gone {
		if n.probe != nil {
			n.probe.stop()
			n.probe = nil
		}
	}
	for _, n := range nodes {
		p := n.probe
		if p != nil && (closed || p.cfg != cfg && !p.cfg.same(cfg)) {
			p.stop()
			n.probe, p = nil, nil
		}
		if closed {
			continue
		}
		if p == nil {
			p = &probe{c: c, n: n, loop: c.loop, fd: -1}
			n.probe = p
			p.setConfig(cfg)
			// First probe now: checks start with the upstream, not with
			// its first request.
			p.loop.wheel.Arm(&p.timer, 0, p)
			continue
		}
		p.cfg = cfg // probes alike (else it was restarted): only thresholds may differ
	}
	c.drain()
}

// drain starts queued probes while there is room.
func (c *checker) drain() {
	for len(c.waiting) > 0 && c.inflight < c.lcfg.concurrency {
		q := c.waiting[0]
		c.waiting = c.waiting[1:]
		if q.phase == probeQueued {
			q.phase = probeIdle
			q.begin()
		}
	}
}

func (p *probe) setConfig(cfg *healthChecks) {
	p.cfg = cfg
	p.to = p.n.addr
	if cfg.port != 0 {
		p.to = netip.AddrPortFrom(p.n.addr.Addr(), cfg.port)
	}
	p.req = nil
	if cfg.typ == "http" {
		p.req = cfg.probeRequest(hostFor(p.to.Addr().String(), p.to.Port()))
	}
}

// OnTimer: the next probe is due, or the one in flight ran out of time.
func (p *probe) OnTimer(*Timer) {
	switch p.phase {
	case probeIdle:
		p.begin()
	case probeConnecting, probeSending, probeReading:
		p.finish(reportTimeout, 0)
	}
}

func (p *probe) begin() {
	c := p.c
	if c.inflight >= p.cfg.concurrency {
		p.phase = probeQueued
		c.waiting = append(c.waiting, p)
		return
	}
	c.inflight++
	p.phase = probeConnecting
	p.sent, p.start, p.end = 0, 0, 0
	p.loop.wheel.Arm(&p.timer, p.cfg.timeout, p)
	// The probe's own timer is the deadline; the connect's is a backstop.
	p.conn.Start(p.loop, p.to, p.cfg.timeout+WheelTick, p)
}

// OnConnect is the end of the probe's connect.
func (p *probe) OnConnect(fd int, err error) {
	if p.phase != probeConnecting {
		if fd >= 0 {
			p.loop.Close(fd)
		}
		return
	}
	if err != nil {
		if err == ErrConnectTimeout {
			p.finish(reportTimeout, 0)
		} else {
			p.finish(reportTCPFailure, 0)
		}
		return
	}
	p.fd = fd
	p.loop.SetHandler(fd, p)
	if p.cfg.typ == "tcp" {
		p.finish(reportSuccess, 0)
		return
	}
	p.phase = probeSending
	p.send()
}

func (p *probe) OnEvent(uint32) {
	switch p.phase {
	case probeSending:
		p.send()
	case probeReading:
		p.read()
	}
}

func (p *probe) send() {
	for p.sent < len(p.req) {
		n, e := Write(p.fd, p.req[p.sent:])
		switch e {
		case 0:
			p.sent += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return
		default:
			p.finish(reportTCPFailure, 0)
			return
		}
	}
	p.phase = probeReading
	p.resp.Reset()
	p.read()
}

// read reads until EAGAIN (so no edge is lost, whichever handler saw it)
// and ends the probe as soon as a final status line is in.
func (p *probe) read() {
	for {
		if p.buf == nil {
			p.buf = p.loop.GetBuf()
		}
		if p.end == len(p.buf) {
			p.finish(p.statusOr(reportTCPFailure))
			return
		}
		n, e := Read(p.fd, p.buf[p.end:])
		switch {
		case e == syscall.EAGAIN:
			return
		case e == syscall.EINTR:
			continue
		case e != 0 || n == 0:
			// Closed or reset: whatever status line arrived stands.
			p.finish(p.statusOr(reportTCPFailure))
			return
		}
		p.end += n
		for {
			k, err := p.resp.Parse(p.buf[p.start:p.end])
			if err == nil && p.resp.Interim() {
				p.start += k
				p.resp.Reset()
				continue
			}
			if err == nil || p.resp.Status() >= 200 || err != codec.ErrNeedMore {
				p.finish(p.statusOr(reportTCPFailure))
				return
			}
			break
		}
	}
}

// statusOr is the outcome of the status read so far, or else def.
func (p *probe) statusOr(def uint8) (uint8, int) {
	if s := p.resp.Status(); s >= 200 {
		return 0, s
	}
	return def, 0
}

// finish ends the probe in flight: kind, or for an http probe that read a
// status, what the status says. Then the next one is due after the
// interval for the node's state.
func (p *probe) finish(kind uint8, status int) {
	c := p.c
	p.release()
	c.inflight--
	p.phase = probeIdle
	lim := &p.cfg.active
	switch {
	case status == 0:
		c.report(p.n, kind, lim)
	case p.cfg.okStatus.has(status):
		c.report(p.n, reportSuccess, lim)
	case p.cfg.badStatus.has(status):
		c.report(p.n, reportHTTPFailure, lim)
	}
	iv := p.cfg.interval[0]
	if isDown(p.n.state.Load()) {
		iv = p.cfg.interval[1]
	}
	p.loop.wheel.Arm(&p.timer, iv, p)
	c.drain()
}

// release gives back what a probe in flight holds.
func (p *probe) release() {
	p.loop.wheel.Disarm(&p.timer)
	if p.phase == probeConnecting {
		p.conn.Cancel()
	}
	if p.fd >= 0 {
		p.loop.Close(p.fd)
		p.fd = -1
	}
	if p.buf != nil {
		p.loop.PutBuf(p.buf)
		p.buf = nil
	}
}

// stop ends the probe for good (its node left the upstream, or the checker
// stopped or changed how it probes).
func (p *probe) stop() {
	switch p.phase {
	case probeConnecting, probeSending, probeReading:
		p.c.inflight--
	case probeQueued:
		for i, q := range p.c.waiting {
			if q == p {
				p.c.waiting = append(p.c.waiting[:i], p.c.waiting[i+1:]...)
				break
			}
		}
	}
	p.release()
	p.phase = probeStopped
}
