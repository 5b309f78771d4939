package main

import (
	"net"
	"sync"
	"testing"
)

// freezer is a loopback TCP proxy to target that can be frozen: it then
// stops moving bytes either way and stops forwarding new connections, but
// closes nothing. From the network, that is what a SIGSTOPped process looks
// like: connections stay established, connects complete (the kernel
// answers), and nothing is ever answered.
type freezer struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cond   *sync.Cond
	frozen bool
	closed bool
	conns  map[net.Conn]struct{}
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	f.cond = sync.NewCond(&f.mu)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

// Addr is where clients connect.
func (f *freezer) Addr() string { return f.ln.Addr().String() }

func (f *freezer) freeze(on bool) {
	f.mu.Lock()
	f.frozen = on
	f.mu.Unlock()
	f.cond.Broadcast()
}

// thaw waits while frozen; false once closed.
func (f *freezer) thaw() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.frozen && !f.closed {
		f.cond.Wait()
	}
	return !f.closed
}

func (f *freezer) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		c.Close()
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *freezer) close() {
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.cond.Broadcast()
	f.ln.Close()
}

func (f *freezer) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		if !f.track(c) {
			return
		}
		go func() {
			if !f.thaw() {
				return
			}
			up, err := net.Dial("tcp", f.target)
			if err != nil {
				c.Close()
				return
			}
			if !f.track(up) {
				return
			}
			go f.pump(up, c)
			f.pump(c, up)
		}()
	}
}

// pump copies src to dst, holding still while frozen: it neither reads
// (so the sender's buffers fill as with a stopped process) nor writes.
func (f *freezer) pump(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		if !f.thaw() {
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			if !f.thaw() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
