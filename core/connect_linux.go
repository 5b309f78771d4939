package core

import (
	"net/netip"
	"time"
)

// ConnectHandler learns how a connect ended: a connected, registered fd, or
// an error (the fd is then already closed).
type ConnectHandler interface {
	OnConnect(fd int, err error)
}

// Connect is a non-blocking connect with a deadline, run on a loop. Embed it
// in the session that needs the connection: starting one allocates nothing.
type Connect struct {
	loop  *Loop
	fd    int
	timer Timer
	h     ConnectHandler
}

// Start dials ap; h hears the outcome on the loop, never synchronously.
func (c *Connect) Start(l *Loop, ap netip.AddrPort, timeout time.Duration, h ConnectHandler) {
	c.loop, c.h, c.fd = l, h, -1
	fd, err := StartConnect(ap)
	if err == nil {
		err = l.Register(fd, c)
		if err != nil {
			l.Close(fd)
		}
	}
	if err != nil {
		// Report on the next round so callers never re-enter themselves.
		c.fd = -1
		l.Defer(&connectFailure{c: c, err: err})
		return
	}
	c.fd = fd
	l.wheel.Arm(&c.timer, timeout, c)
}

type connectFailure struct {
	c   *Connect
	err error
}

func (f *connectFailure) Resume() { f.c.h.OnConnect(-1, f.err) }

// OnEvent fires when the socket becomes writable or fails.
func (c *Connect) OnEvent(ev uint32) {
	if c.fd < 0 {
		return
	}
	done, err := ConnectResult(c.fd)
	if !done {
		return
	}
	c.loop.wheel.Disarm(&c.timer)
	fd := c.fd
	c.fd = -1
	if err != nil {
		c.loop.Close(fd)
		c.h.OnConnect(-1, err)
		return
	}
	c.h.OnConnect(fd, nil)
}

// OnTimer is the connect deadline.
func (c *Connect) OnTimer(*Timer) {
	if c.fd < 0 {
		return
	}
	c.loop.Close(c.fd)
	c.fd = -1
	c.h.OnConnect(-1, ErrConnectTimeout)
}

// Cancel abandons a connect in progress.
func (c *Connect) Cancel() {
	if c.fd >= 0 {
		c.loop.wheel.Disarm(&c.timer)
		c.loop.Close(c.fd)
		c.fd = -1
	}
}
