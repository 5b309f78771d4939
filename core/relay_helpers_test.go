package core

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// tcpPair returns two connected loopback TCP sockets: proxy is non-blocking
// (the side a relay owns), peer is blocking (the side the test drives).
func tcpPair(t testing.TB) (proxy, peer int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	dup := func(c net.Conn) int {
		f, err := c.(*net.TCPConn).File()
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		fd, err := unix.Dup(int(f.Fd()))
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	proxy, peer = dup(s), dup(c)
	if err := unix.SetNonblock(proxy, true); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(peer, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(peer) })
	return proxy, peer
}

func readFull(t testing.TB, fd int, p []byte) {
	t.Helper()
	for got := 0; got < len(p); {
		n, err := unix.Read(fd, p[got:])
		if err != nil || n <= 0 {
			t.Fatalf("read after %d of %d bytes: n=%d err=%v", got, len(p), n, err)
		}
		got += n
	}
}

// relayRig is a relay driven by hand: client → [a relay b] → upstream.
type relayRig struct {
	loop             *Loop
	r                *Relay
	client, upstream int
}

func newRelayRig(t testing.TB, mode SpliceMode) *relayRig {
	t.Helper()
	l, err := NewLoop(0, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.shutdown)
	a, client := tcpPair(t)
	b, upstream := tcpPair(t)
	r, err := NewRelay(l, a, b, &RelayOptions{Splice: mode}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &relayRig{loop: l, r: r, client: client, upstream: upstream}
}

// roundTrip sends msg client→upstream and back, driving the relay by hand.
func (g *relayRig) roundTrip(t testing.TB, msg, in []byte) {
	if _, err := unix.Write(g.client, msg); err != nil {
		t.Fatal(err)
	}
	g.r.a.OnEvent(unix.EPOLLIN)
	readFull(t, g.upstream, in[:len(msg)])
	if _, err := unix.Write(g.upstream, msg); err != nil {
		t.Fatal(err)
	}
	g.r.b.OnEvent(unix.EPOLLIN)
	readFull(t, g.client, in[:len(msg)])
}
