package core

import (
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// AcceptFunc takes ownership of an accepted, non-blocking socket on loop l.
type AcceptFunc func(l *Loop, fd int, local, remote netip.AddrPort)

// acceptor is one loop's listening socket for one address.
type acceptor struct {
	loop     *Loop
	fd       int
	local    netip.AddrPort
	onAccept AcceptFunc
	pause    Timer
	closed   bool
}

// acceptBatch bounds the accepts per wake-up so a connection storm cannot
// starve traffic already on the loop; the level-triggered listener fires again.
const acceptBatch = 64

func (a *acceptor) OnEvent(uint32) {
	for range acceptBatch {
		fd, remote, err := Accept(a.fd)
		if err != nil {
			switch err {
			case syscall.EAGAIN, syscall.EINTR, syscall.ECONNABORTED:
				return
			case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM:
				// Out of descriptors: stop accepting for a moment instead of
				// spinning on a listener that stays readable.
				WarnOnce("accept-"+err.Error(), "accept on %s: %v; pausing accepts for 100ms (raise the open-files limit)", a.local, err)
				a.loop.Unregister(a.fd)
				a.loop.wheel.Arm(&a.pause, 100*time.Millisecond, a)
				return
			default:
				Errorf("accept on %s: %v", a.local, err)
				return
			}
		}
		a.onAccept(a.loop, fd, a.local, remote)
	}
}

func (a *acceptor) OnTimer(*Timer) {
	if !a.closed {
		a.loop.RegisterLevel(a.fd, a)
	}
}

func (a *acceptor) close() {
	a.closed = true
	a.loop.wheel.Disarm(&a.pause)
	a.loop.Close(a.fd)
}

// Listeners are the accepting sockets of a group, one per loop per address.
type Listeners struct {
	acc []*acceptor
}

// ListenTCP opens addr on every loop of g (SO_REUSEPORT) and returns the
// bound address (port 0 picks one port, shared by all loops). Call before Start.
func (g *Group) ListenTCP(ls *Listeners, addr netip.AddrPort, onAccept AcceptFunc) (netip.AddrPort, error) {
	for _, l := range g.Loops {
		fd, err := Listen(addr, true, 4096)
		if err != nil {
			return addr, err
		}
		if addr.Port() == 0 {
			sa, err := unix.Getsockname(fd)
			if err != nil {
				unix.Close(fd)
				return addr, err
			}
			addr = netip.AddrPortFrom(addr.Addr(), SockaddrToAddrPort(sa).Port())
		}
		a := &acceptor{loop: l, fd: fd, local: addr, onAccept: onAccept}
		if err := l.RegisterLevel(fd, a); err != nil {
			l.Close(fd)
			return addr, err
		}
		ls.acc = append(ls.acc, a)
	}
	return addr, nil
}

// Close stops accepting on every loop; connections already accepted go on.
func (g *Group) CloseListeners(ls *Listeners) {
	g.Each(func(l *Loop) {
		for _, a := range ls.acc {
			if a.loop == l {
				a.close()
			}
		}
	})
}

// CloseListenersNow closes listeners of loops that are not running.
func (ls *Listeners) CloseNow() {
	for _, a := range ls.acc {
		a.close()
	}
}
