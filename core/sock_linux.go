package core

import (
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ParseAddr accepts "host:port" where host is an IP literal, empty (all
// IPv4 addresses) or "*"; names are the caller's business.
func ParseAddr(s string) (netip.AddrPort, error) {
	if len(s) > 0 && s[0] == ':' {
		s = "0.0.0.0" + s
	} else if len(s) > 1 && s[0] == '*' && s[1] == ':' {
		s = "0.0.0.0" + s[1:]
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return ap, fmt.Errorf("want ip:port: %w", err)
	}
	return ap, nil
}

func sockaddr(ap netip.AddrPort) (unix.Sockaddr, int) {
	a := ap.Addr()
	if a.Is4() || a.Is4In6() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.Unmap().As4()}, unix.AF_INET
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	return sa, unix.AF_INET6
}

// SockaddrToAddrPort converts what accept(2) returns.
func SockaddrToAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch v := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(v.Addr), uint16(v.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(v.Addr).Unmap(), uint16(v.Port))
	}
	return netip.AddrPort{}
}

// Listen opens a non-blocking TCP listener. With reusePort every loop opens
// its own socket on the same address and the kernel spreads connections
// across them, so accepting needs no lock and no hand-off between loops.
func Listen(ap netip.AddrPort, reusePort bool, backlog int) (int, error) {
	sa, family := sockaddr(ap)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err == nil && reusePort {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}
	if err == nil {
		err = os.NewSyscallError("bind", unix.Bind(fd, sa))
	}
	if err == nil {
		err = os.NewSyscallError("listen", unix.Listen(fd, backlog))
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Accept takes one pending connection, non-blocking and close-on-exec, with
// Nagle off: a proxy must not add latency to small writes.
func Accept(lfd int) (int, netip.AddrPort, error) {
	fd, sa, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	return fd, SockaddrToAddrPort(sa), nil
}

// StartConnect begins a non-blocking connect; completion shows as EPOLLOUT.
func StartConnect(ap netip.AddrPort) (int, error) {
	sa, family := sockaddr(ap)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	err = unix.Connect(fd, sa)
	if err != nil && err != unix.EINPROGRESS && err != unix.EINTR {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// ConnectResult reports whether a connect started by StartConnect has
// finished: done=false means still in progress (a stale wake-up).
func ConnectResult(fd int) (done bool, err error) {
	soerr, gerr := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if gerr != nil {
		return true, gerr
	}
	if soerr != 0 {
		return true, syscall.Errno(soerr)
	}
	if _, err := unix.Getpeername(fd); err != nil {
		if err == unix.ENOTCONN {
			return false, nil
		}
		return true, err
	}
	return true, nil
}

// The data path uses raw system calls: the sockets are non-blocking, so the
// scheduler hand-off that syscall.Syscall performs buys nothing but cost.

func rawRead(fd int, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), e
}

func rawWrite(fd int, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), e
}

func rawSplice(in, out int, n int) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n),
		unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
	return int(r), e
}

// Read and Write are the data-path calls for other packages (the L7 pipeline):
// they return (n, 0) or (-1/0, errno) without allocating.
func Read(fd int, p []byte) (int, syscall.Errno)  { return rawRead(fd, p) }
func Write(fd int, p []byte) (int, syscall.Errno) { return rawWrite(fd, p) }

// ShutdownWrite sends FIN, passing a peer's half-close along.
func ShutdownWrite(fd int) { unix.Shutdown(fd, unix.SHUT_WR) }

// CloseReset closes with an RST instead of a FIN, for aborted sessions.
func CloseReset(l *Loop, fd int) {
	unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	l.Close(fd)
}

// Writev writes iovs with one writev(2), using iov as scratch (no
// allocation); it returns the bytes written. At most len(iov) slices go out.
func Writev(fd int, iovs [][]byte, iov []unix.Iovec) (int, syscall.Errno) {
	n := 0
	for _, b := range iovs {
		if len(b) == 0 {
			continue
		}
		if n == len(iov) {
			break
		}
		iov[n].Base = &b[0]
		iov[n].SetLen(len(b))
		n++
	}
	if n == 0 {
		return 0, 0
	}
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(n))
	for i := range n {
		iov[i].Base = nil // drop references to buffers the caller may recycle
	}
	return int(r), e
}

// Advance drops n written bytes from the front of iovs, returning what is left.
func Advance(iovs [][]byte, n int) [][]byte {
	for len(iovs) > 0 && n >= len(iovs[0]) {
		n -= len(iovs[0])
		iovs = iovs[1:]
	}
	if len(iovs) > 0 && n > 0 {
		iovs[0] = iovs[0][n:]
	}
	return iovs
}

// epollPoll is epoll_wait with a zero timeout, as a raw call: it never blocks.
func epollPoll(epfd int, events []unix.EpollEvent) (int, error) {
	r, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
