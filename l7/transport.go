package l7

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/sluice-gateway/sluice/core"
	"golang.org/x/sys/unix"
)

// ServeConn runs the HTTP pipeline over nc, a connection from a
// standard-library transport (crypto/tls terminates here). The bytes cross a
// socketpair into a loop, so exactly the same pipeline serves them as serves
// the reactor's own sockets; two goroutines carry them across, passing a
// half-close on in each direction.
func (s *Server) ServeConn(nc net.Conn) error {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		nc.Close()
		return os.NewSyscallError("socketpair", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		nc.Close()
		return err
	}
	f := os.NewFile(uintptr(fds[1]), "l7-bridge")
	loopSide, err := net.FileConn(f)
	f.Close()
	if err != nil {
		unix.Close(fds[0])
		nc.Close()
		return err
	}
	remote, local := addrPort(nc.RemoteAddr()), addrPort(nc.LocalAddr())
	l := s.group.Loops[int(s.next.Add(1))%len(s.group.Loops)]
	inner := fds[0]
	l.Post(func(any) error {
		s.accept(l, inner, local, remote)
		return nil
	}, nil)
	b := &bridge{client: nc, loop: loopSide}
	b.left.Store(2)
	go func() {
		b.pipe(nc, loopSide) // loop → client
		// The pipeline is done with this client (closed, or half-closed
		// after a tunnel): don't let a silent client hold the goroutines.
		nc.SetReadDeadline(time.Now().Add(s.opts.KeepaliveTimeout))
	}()
	go b.pipe(loopSide, nc) // client → loop
	return nil
}

// bridge is a standard-library connection joined to a loop's socket.
type bridge struct {
	client, loop net.Conn
	left         atomic.Int32 // directions still copying
}

// pipe copies src to dst and passes src's end on as a half-close of dst; a
// failed copy, or the second direction to end, closes both connections.
func (b *bridge) pipe(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := dst.(closeWriter); ok && err == nil && cw.CloseWrite() == nil && b.left.Add(-1) > 0 {
		return
	}
	b.client.Close()
	b.loop.Close()
}

// Serve accepts from ln until it is closed, handing each connection to ServeConn.
func (s *Server) Serve(ln net.Listener) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if err := s.ServeConn(nc); err != nil {
			core.Warnf("l7: serve %s: %v", nc.RemoteAddr(), err)
		}
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}
