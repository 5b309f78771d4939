package core

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipePool keeps a loop's spare splice pipes. A relay holds a pipe only while
// bytes are in flight through it, so idle connections cost no descriptors
// beyond their sockets.
type pipePool struct {
	free [][2]int
	max  int
	size int // F_SETPIPE_SZ; 0 keeps the kernel default
}

func (p *pipePool) get() ([2]int, error) {
	if n := len(p.free); n > 0 {
		fds := p.free[n-1]
		p.free = p.free[:n-1]
		return fds, nil
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return fds, os.NewSyscallError("pipe2", err)
	}
	if p.size > 0 {
		unix.FcntlInt(uintptr(fds[0]), unix.F_SETPIPE_SZ, p.size)
	}
	return fds, nil
}

// put takes back an empty pipe.
func (p *pipePool) put(fds [2]int) {
	if len(p.free) < p.max {
		p.free = append(p.free, fds)
		return
	}
	unix.Close(fds[0])
	unix.Close(fds[1])
}

func (p *pipePool) drain() {
	for _, fds := range p.free {
		unix.Close(fds[0])
		unix.Close(fds[1])
	}
	p.free = nil
}

// bufPool keeps a loop's spare buffers. It may hold as many as the loop's
// busiest moment needed (so a steady load never allocates), and gives back
// on each trim what stayed unused since the previous one.
type bufPool struct {
	free [][]byte
	size int
	max  int
	low  int // fewest spare buffers since the last trim
}

func (p *bufPool) get() []byte {
	n := len(p.free)
	if n == 0 {
		p.low = 0
		return make([]byte, p.size)
	}
	b := p.free[n-1]
	p.free[n-1] = nil
	p.free = p.free[:n-1]
	if n-1 < p.low {
		p.low = n - 1
	}
	return b
}

func (p *bufPool) put(b []byte) {
	if len(p.free) < p.max {
		p.free = append(p.free, b[:cap(b)])
	}
}

// trim frees the buffers no one needed over the last period.
func (p *bufPool) trim() {
	n := len(p.free)
	drop := min(p.low, n)
	for i := n - drop; i < n; i++ {
		p.free[i] = nil
	}
	p.free = p.free[:n-drop]
	p.low = len(p.free)
}

// GetBuf borrows one of the loop's buffers (BufferSize bytes); give it back
// with PutBuf once nothing refers to it.
func (l *Loop) GetBuf() []byte { return l.bufs.get() }

// PutBuf returns a buffer taken with GetBuf.
func (l *Loop) PutBuf(b []byte) { l.bufs.put(b) }
