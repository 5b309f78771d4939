package core

import (
	"testing"

	"golang.org/x/sys/unix"
)

type ignore struct{}

func (ignore) OnEvent(uint32) {}

// The node's data and FIN arrive while another handler (a connect) owns the
// socket's events and consumes the edge; the relay that takes over must still
// read to EOF and pass the FIN on, with no further event to prompt it.
func TestRelayAfterConsumedEdgeStillSeesEOF(t *testing.T) {
	l, err := NewLoop(0, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.shutdown)
	a, client := tcpPair(t)
	b, node := tcpPair(t)
	if err := l.Register(b, ignore{}); err != nil {
		t.Fatal(err)
	}
	unix.Write(node, []byte("B"))
	unix.Shutdown(node, unix.SHUT_WR)
	// Let the kernel deliver both, then consume the edge as the connect would.
	pfd := []unix.PollFd{{Fd: int32(b), Events: unix.POLLRDHUP}}
	unix.Poll(pfd, 1000)
	events := make([]unix.EpollEvent, 8)
	if n, _ := epollPoll(l.epfd, events); n != 1 {
		t.Fatalf("expected the edge for the node's bytes, got %d events", n)
	}
	if _, err := NewRelay(l, a, b, &RelayOptions{Splice: SpliceOff}, nil); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 8)
	n, _ := unix.Read(client, got)
	if string(got[:n]) != "B" {
		t.Fatalf("client got %q", got[:n])
	}
	// The FIN must follow at once: the relay read to EOF on its own.
	pfd = []unix.PollFd{{Fd: int32(client), Events: unix.POLLIN}}
	if k, _ := unix.Poll(pfd, 300); k != 1 {
		t.Fatal("the node's FIN never reached the client")
	}
	if n, _ := unix.Read(client, got); n != 0 {
		t.Fatalf("after the bytes, read %d more instead of EOF", n)
	}
}
