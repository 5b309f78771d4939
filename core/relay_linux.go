package core

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// RelayOptions are shared by every relay of a listener; a relay keeps a pointer.
type RelayOptions struct {
	// Splice chooses how bytes cross the proxy: copied through the loop's
	// buffer, or moved through a kernel pipe with splice(2).
	Splice SpliceMode
	// IdleTimeout closes a relay that moved no byte either way for this long;
	// zero means never.
	IdleTimeout time.Duration
}

// SpliceMode says when a relay uses splice(2).
type SpliceMode uint8

const (
	// SpliceAuto copies while traffic is small request/response exchanges and
	// switches a direction to splice once a read fills the whole buffer: on
	// loopback, splice moved 15.8 Gbit/s of iperf3 where copying moved 11.3,
	// while for redis-sized messages its two calls per hop cost more than a
	// read and a write.
	SpliceAuto SpliceMode = iota
	SpliceOn
	SpliceOff
)

// relayBudget is how many read/write rounds one direction may run before the
// relay yields the loop to other connections.
const relayBudget = 16

// Relay forwards bytes both ways between two connected sockets on one loop.
//
// Flow control: a direction reads its source only while nothing is pending
// for its destination. A short write parks the remainder (at most one read's
// worth: the high watermark is the loop's scratch size, the low watermark is
// zero) and the source is not read again until the remainder is flushed, so
// a slow reader makes the proxy hold at most one buffer per direction and the
// kernel's TCP window pushes back on the fast side.
//
// Half-close: a FIN from one side is passed on with shutdown(SHUT_WR) once
// every byte before it has been written; the relay closes when both
// directions have ended, so nothing accepted is dropped.
type Relay struct {
	loop   *Loop
	opts   *RelayOptions
	a, b   relaySide // a is the downstream (client) side
	ab, ba relayDir
	timer  Timer
	active int64 // wheel tick of the last byte moved
	queued bool
	closed bool
	// OnDone is called once when the relay ends; err is nil after an orderly
	// close of both directions.
	OnDone func(r *Relay, err error)
}

type relaySide struct {
	r        *Relay
	fd       int
	readable bool
	writable bool
	finSeen  bool // EPOLLRDHUP: a FIN is queued behind the data
	// ownsEdges: a read on this side has returned EAGAIN, so every edge
	// since has come to this handler. Until then (a socket that another
	// handler, such as a connect, watched first) a short read proves nothing.
	ownsEdges bool
}

type relayDir struct {
	src, dst *relaySide
	buf      []byte // pending bytes for dst (copy path)
	off, n   int
	pipe     [2]int // splice path: pipe held while bytes are in it
	inPipe   int
	hasPipe  bool
	splice   bool // this direction moves bytes with splice(2)
	eof      bool // src said FIN
	done     bool // FIN passed to dst
	Bytes    int64
}

func (s *relaySide) OnEvent(ev uint32) {
	if ev&EvIn != 0 {
		s.readable = true
	}
	if ev&unix.EPOLLRDHUP != 0 {
		s.finSeen = true
	}
	if ev&EvOut != 0 {
		s.writable = true
	}
	s.r.run()
}

// NewRelay starts forwarding between the connected sockets a and b, taking
// ownership of both. Each must be registered on l already or not at all: an
// unregistered one is registered here.
func NewRelay(l *Loop, a, b int, opts *RelayOptions, onDone func(*Relay, error)) (*Relay, error) {
	return NewRelayWith(l, a, b, opts, onDone, nil, nil)
}

// NewRelayWith is NewRelay for a connection that already read bytes meant
// for the other side (a tunnel after an HTTP upgrade): toB is sent to b and
// toA to a before anything else. Each must fit the loop's buffer size.
func NewRelayWith(l *Loop, a, b int, opts *RelayOptions, onDone func(*Relay, error), toB, toA []byte) (*Relay, error) {
	r := &Relay{loop: l, opts: opts, OnDone: onDone}
	r.a = relaySide{r: r, fd: a, readable: true, writable: true}
	r.b = relaySide{r: r, fd: b, readable: true, writable: true}
	r.ab = relayDir{src: &r.a, dst: &r.b, splice: opts.Splice == SpliceOn}
	r.ba = relayDir{src: &r.b, dst: &r.a, splice: opts.Splice == SpliceOn}
	for _, p := range [2]struct {
		d    *relayDir
		data []byte
	}{{&r.ab, toB}, {&r.ba, toA}} {
		if len(p.data) > 0 {
			p.d.splice = false // pending bytes go first, through the copy path
			p.d.buf = l.bufs.get()
			p.d.n = copy(p.d.buf, p.data)
		}
	}
	for _, s := range []*relaySide{&r.a, &r.b} {
		if s.fd < len(l.slots) && l.slots[s.fd].h != nil {
			l.SetHandler(s.fd, s)
		} else if err := l.Register(s.fd, s); err != nil {
			r.finish(err)
			return nil, err
		}
	}
	r.active = l.wheel.cur
	if opts.IdleTimeout > 0 {
		l.wheel.Arm(&r.timer, opts.IdleTimeout, r)
	}
	r.run()
	return r, nil
}

// BytesUp and BytesDown are the byte counts forwarded a→b and b→a.
func (r *Relay) BytesUp() int64   { return r.ab.Bytes }
func (r *Relay) BytesDown() int64 { return r.ba.Bytes }

// Resume continues a relay that used up its budget.
func (r *Relay) Resume() {
	r.queued = false
	r.run()
}

func (r *Relay) run() {
	if r.closed {
		return
	}
	more := r.pump(&r.ab)
	if r.closed {
		return
	}
	if r.pump(&r.ba) {
		more = true
	}
	if r.closed {
		return
	}
	if r.ab.done && r.ba.done {
		r.finish(nil)
		return
	}
	if more && !r.queued {
		r.queued = true
		r.loop.Defer(r)
	}
}

// OnTimer is the idle timeout: re-armed lazily from the last activity so the
// data path never touches the wheel.
func (r *Relay) OnTimer(*Timer) {
	w := &r.loop.wheel
	idle := time.Duration(w.cur-r.active) * wheelTick
	if left := r.opts.IdleTimeout - idle; left > 0 {
		w.Arm(&r.timer, left, r)
		return
	}
	r.finish(ErrIdleTimeout)
}

func (r *Relay) pump(d *relayDir) bool {
	if d.splice {
		return r.pumpSplice(d)
	}
	return r.pumpCopy(d)
}

// pumpCopy returns true when it stopped for the budget with work left.
func (r *Relay) pumpCopy(d *relayDir) bool {
	l := r.loop
	for range relayBudget {
		if d.n > 0 {
			if !d.dst.writable {
				return false
			}
			w, e := rawWrite(d.dst.fd, d.buf[d.off:d.off+d.n])
			if !r.wrote(d, w, e) {
				return false
			}
			if d.n > 0 {
				continue
			}
			l.bufs.put(d.buf)
			d.buf, d.off = nil, 0
		}
		if d.done {
			return false
		}
		if d.eof {
			ShutdownWrite(d.dst.fd)
			d.done = true
			return false
		}
		if !d.src.readable {
			return false
		}
		n, e := rawRead(d.src.fd, l.Scratch)
		if !r.read(d, n, e) {
			return false
		}
		if n == 0 {
			continue
		}
		drained(d.src, n, len(l.Scratch))
		w := 0
		if d.dst.writable {
			w, e = rawWrite(d.dst.fd, l.Scratch[:n])
			if e == syscall.EAGAIN {
				w, e = 0, 0
				d.dst.writable = false
			}
			if e != 0 {
				r.finish(e)
				return false
			}
		}
		d.Bytes += int64(w)
		if w < n {
			d.buf = l.bufs.get()
			d.n = copy(d.buf, l.Scratch[w:n])
		} else if n == len(l.Scratch) && r.opts.Splice == SpliceAuto {
			d.splice = true // a bulk flow: let the kernel move it
			return r.pumpSplice(d)
		}
	}
	return true
}

// wrote accounts a write of pending bytes; false means stop pumping.
func (r *Relay) wrote(d *relayDir, w int, e syscall.Errno) bool {
	switch e {
	case 0:
	case syscall.EAGAIN:
		d.dst.writable = false
		return false
	case syscall.EINTR:
		return true
	default:
		r.finish(e)
		return false
	}
	d.off += w
	d.n -= w
	d.Bytes += int64(w)
	return true
}

// read accounts a read from the source; false means stop pumping.
func (r *Relay) read(d *relayDir, n int, e syscall.Errno) bool {
	switch e {
	case 0:
	case syscall.EAGAIN:
		d.src.readable = false
		d.src.ownsEdges = true
		return false
	case syscall.EINTR:
		return true
	default:
		r.finish(e)
		return false
	}
	if n == 0 {
		d.eof = true
		d.src.readable = false
	}
	r.active = r.loop.wheel.cur
	return true
}

// drained notes a read that returned less than it asked for: the socket's
// queue is empty, and with edge-triggered epoll anything arriving later
// raises a new event, so asking again would only return EAGAIN. Not so once
// a FIN was signalled: a short read returns the data before it and the EOF
// is still to be read, with no further event to announce it.
func drained(s *relaySide, n, asked int) {
	if n < asked && !s.finSeen && s.ownsEdges {
		s.readable = false
	}
}

// spliceChunk asks for more than a pipe holds; the kernel moves what fits.
const spliceChunk = 1 << 20

func (r *Relay) pumpSplice(d *relayDir) bool {
	l := r.loop
	for range relayBudget {
		if d.inPipe > 0 {
			if !d.dst.writable {
				return false
			}
			w, e := rawSplice(d.pipe[0], d.dst.fd, d.inPipe)
			if e == syscall.EAGAIN {
				d.dst.writable = false
				return false
			}
			if e != 0 && e != syscall.EINTR {
				r.finish(e)
				return false
			}
			d.inPipe -= w
			d.Bytes += int64(w)
			if d.inPipe > 0 {
				continue
			}
		}
		if d.done {
			return false
		}
		if d.eof {
			r.dropPipe(d)
			ShutdownWrite(d.dst.fd)
			d.done = true
			return false
		}
		if !d.src.readable {
			r.dropPipe(d)
			return false
		}
		if !d.hasPipe {
			p, err := l.pipes.get()
			if err != nil {
				r.finish(err)
				return false
			}
			d.pipe, d.hasPipe = p, true
		}
		n, e := rawSplice(d.src.fd, d.pipe[1], spliceChunk)
		if e == syscall.EAGAIN && d.inPipe > 0 {
			// Either the socket is empty or the pipe is full: drain and ask again.
			continue
		}
		if !r.read(d, n, e) {
			if !r.closed {
				r.dropPipe(d)
			}
			return false
		}
		d.inPipe += n
	}
	return true
}

// dropPipe gives an empty pipe back to the loop.
func (r *Relay) dropPipe(d *relayDir) {
	if d.hasPipe && d.inPipe == 0 {
		r.loop.pipes.put(d.pipe)
		d.hasPipe = false
	}
}

// Close ends the relay at once, discarding anything pending.
func (r *Relay) Close(err error) { r.finish(err) }

func (r *Relay) finish(err error) {
	if r.closed {
		return
	}
	r.closed = true
	l := r.loop
	l.wheel.Disarm(&r.timer)
	for _, d := range []*relayDir{&r.ab, &r.ba} {
		if d.buf != nil {
			l.bufs.put(d.buf)
			d.buf = nil
		}
		if d.hasPipe {
			if d.inPipe == 0 {
				l.pipes.put(d.pipe)
			} else {
				l.Close(d.pipe[0])
				l.Close(d.pipe[1])
			}
			d.hasPipe = false
		}
	}
	l.Close(r.a.fd)
	l.Close(r.b.fd)
	if r.OnDone != nil {
		r.OnDone(r, err)
	}
}
