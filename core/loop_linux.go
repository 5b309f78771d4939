package core

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2/pkg/queue"
	"golang.org/x/sys/unix"
)

// Handler receives the readiness events of one registered file descriptor.
// Sockets are registered edge-triggered for read, write and peer half-close at
// once and never modified: a handler that wants to stop reading simply stops
// calling read, and the kernel's receive window pushes back on the sender. That
// keeps epoll_ctl off the data path entirely.
type Handler interface {
	OnEvent(ev uint32)
}

// Ready is work a handler left unfinished so that one busy connection cannot
// monopolise the loop; the loop calls Resume after the current batch of events.
type Ready interface {
	Resume()
}

const (
	// EvIn covers data, a peer's FIN (RDHUP) and hang-up: all of them are
	// "a read will not block", which is what a handler needs to know.
	EvIn  = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR
	EvOut = unix.EPOLLOUT | unix.EPOLLHUP | unix.EPOLLERR
	evAll = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET
)

type slot struct {
	h   Handler
	gen uint32
}

// Loop is one event loop: an epoll instance, its registered handlers, a timer
// wheel, a ready list and a queue for tasks sent from other goroutines. Every
// method except Post and Stop must be called on the loop's own goroutine.
type Loop struct {
	ID int

	epfd   int
	efd    int
	slots  []slot // indexed by fd
	gen    uint32
	ready  []Ready
	spare  []Ready
	wheel  wheel
	tasks  queue.AsyncTaskQueue
	awake  atomic.Int32
	stopCh chan struct{}
	done   chan struct{}
	quit   bool
	rounds int64 // epoll_wait calls, for tests
	trimT  Timer

	// Scratch is the loop's shared read buffer: data read from one socket is
	// written straight on to the next, so connections own no buffer at rest.
	Scratch []byte
	pipes   pipePool
	bufs    bufPool

	// Conns counts live sessions on this loop (for draining).
	Conns atomic.Int64
}

// NewLoop opens the loop's epoll and eventfd descriptors.
func NewLoop(id int, scratch int) (*Loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	l := &Loop{
		ID:      id,
		epfd:    epfd,
		efd:     efd,
		tasks:   queue.NewLockFreeQueue(),
		stopCh:  make(chan struct{}),
		done:    make(chan struct{}),
		Scratch: make([]byte, scratch),
	}
	l.wheel.init(time.Now())
	l.pipes.max = 64
	l.bufs.size = scratch
	l.bufs.max = 4096
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		l.closeFDs()
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return l, nil
}

func (l *Loop) closeFDs() {
	unix.Close(l.efd)
	unix.Close(l.epfd)
}

// Register adds fd to the loop, edge-triggered for input, output and peer
// half-close. The handler stays attached until Unregister or Close.
func (l *Loop) Register(fd int, h Handler) error { return l.register(fd, h, evAll) }

// RegisterLevel adds a listening socket, level-triggered for input, so that a
// loop which stops accepting part-way is woken again.
func (l *Loop) RegisterLevel(fd int, h Handler) error { return l.register(fd, h, unix.EPOLLIN) }

func (l *Loop) register(fd int, h Handler, events uint32) error {
	l.gen++
	if fd >= len(l.slots) {
		n := len(l.slots)*2 + 64
		for n <= fd {
			n *= 2
		}
		s := make([]slot, n)
		copy(s, l.slots)
		l.slots = s
	}
	l.slots[fd] = slot{h: h, gen: l.gen}
	ev := unix.EpollEvent{Events: events, Fd: int32(fd), Pad: int32(l.gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.slots[fd] = slot{}
		return os.NewSyscallError("epoll_ctl add", err)
	}
	return nil
}

// SetHandler replaces the handler of a registered fd without touching epoll:
// used when a connecting socket becomes one side of a relay.
func (l *Loop) SetHandler(fd int, h Handler) { l.slots[fd].h = h }

// Close forgets fd and closes it. Closing removes it from epoll; a stale event
// already fetched for it in this batch is dropped by the generation check.
func (l *Loop) Close(fd int) {
	if fd < 0 {
		return
	}
	if fd < len(l.slots) {
		l.slots[fd] = slot{}
	}
	unix.Close(fd)
}

// Unregister removes fd from epoll without closing it.
func (l *Loop) Unregister(fd int) {
	if fd < len(l.slots) {
		l.slots[fd] = slot{}
	}
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

// Defer queues r to run after the current batch of events.
func (l *Loop) Defer(r Ready) { l.ready = append(l.ready, r) }

// Post runs fn(arg) on the loop's goroutine. Safe from any goroutine.
func (l *Loop) Post(fn func(any) error, arg any) {
	t := queue.GetTask()
	t.Exec, t.Param = fn, arg
	l.tasks.Enqueue(t)
	if l.awake.CompareAndSwap(0, 1) {
		var one = [8]byte{1}
		for {
			_, err := unix.Write(l.efd, one[:])
			if err == unix.EINTR {
				continue
			}
			break
		}
	}
}

// poolTrimEvery is how often spare buffers unused for a whole period are freed.
const poolTrimEvery = 5 * time.Second

// OnTimer trims the loop's buffer pool.
func (l *Loop) OnTimer(*Timer) {
	l.bufs.trim()
	l.wheel.Arm(&l.trimT, poolTrimEvery, l)
}

// Timers gives access to the loop's timer wheel.
func (l *Loop) Timers() *wheel { return &l.wheel }

// Now is the loop's clock: the time its current round began, read once
// per round right after epoll returned, so that handlers time requests
// without a clock read each (as nginx's cached time). It is behind the
// true time by at most the round's own length.
func (l *Loop) Now() time.Time { return l.wheel.now }

// Run drives the loop until Stop. It locks its goroutine to an OS thread so a
// pinned process keeps each loop's caches warm.
func (l *Loop) Run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(l.done)
	events := make([]unix.EpollEvent, 256)
	l.wheel.Arm(&l.trimT, poolTrimEvery, l)
	for !l.quit {
		// Under load something is usually ready: ask without blocking first,
		// as a raw call, and work out how long to sleep, then pay the
		// scheduler hand-off of a blocking system call, only when there is
		// nothing to do.
		n, err := epollPoll(l.epfd, events)
		if n == 0 && err == nil && len(l.ready) == 0 {
			if timeout := l.wheel.untilNext(); timeout != 0 {
				n, err = unix.EpollWait(l.epfd, events, timeout)
			}
		}
		l.rounds++
		if err != nil && err != unix.EINTR {
			logf(levelError, "loop %d: epoll_wait: %v", l.ID, err)
			return
		}
		// Always: a zero-timeout wait for a due tick must see the clock move,
		// or the wheel never advances and the loop spins.
		l.wheel.setNow(time.Now())
		for i := 0; i < n; i++ {
			ev := &events[i]
			fd := int(ev.Fd)
			if fd == l.efd {
				l.runTasks()
				continue
			}
			if fd >= len(l.slots) {
				continue
			}
			s := l.slots[fd]
			if s.h == nil || s.gen != uint32(ev.Pad) {
				continue
			}
			s.h.OnEvent(ev.Events)
		}
		l.wheel.advance(l.wheel.now)
		l.runReady()
		if n == len(events) && n < 4096 {
			events = make([]unix.EpollEvent, n*2)
		}
	}
	l.shutdown()
}

func (l *Loop) runReady() {
	if len(l.ready) == 0 {
		return
	}
	// Work resumed now may defer itself again: it goes to the next round, after
	// another epoll_wait, so every connection gets its turn.
	batch := l.ready
	l.ready = l.spare[:0]
	for i, r := range batch {
		r.Resume()
		batch[i] = nil
	}
	l.spare = batch[:0]
}

func (l *Loop) runTasks() {
	var buf [8]byte
	unix.Read(l.efd, buf[:])
	l.awake.Store(0)
	for t := l.tasks.Dequeue(); t != nil; t = l.tasks.Dequeue() {
		if err := t.Exec(t.Param); errors.Is(err, errLoopStop) {
			l.quit = true
		}
		queue.PutTask(t)
	}
}

var errLoopStop = errors.New("core: loop stop")

// Stop asks the loop to return from Run and waits until it has.
func (l *Loop) Stop() {
	l.Post(func(any) error { return errLoopStop }, nil)
	<-l.done
}

func (l *Loop) shutdown() {
	for fd, s := range l.slots {
		if s.h != nil {
			unix.Close(fd)
			l.slots[fd] = slot{}
		}
	}
	l.pipes.drain()
	l.closeFDs()
}

// Group is the set of loops of one process, one per worker.
type Group struct {
	Loops []*Loop
	wg    sync.WaitGroup
}

// NewGroup opens n loops (n <= 0 means one per CPU this process may run on).
func NewGroup(n int, scratch int) (*Group, error) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	g := &Group{}
	for i := 0; i < n; i++ {
		l, err := NewLoop(i, scratch)
		if err != nil {
			for _, o := range g.Loops {
				o.closeFDs()
			}
			return nil, err
		}
		g.Loops = append(g.Loops, l)
	}
	return g, nil
}

// Start runs every loop on its own goroutine.
func (g *Group) Start() {
	for _, l := range g.Loops {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			l.Run()
		}()
	}
}

// Each runs fn on every loop's goroutine and waits for all of them.
func (g *Group) Each(fn func(l *Loop)) {
	var wg sync.WaitGroup
	for _, l := range g.Loops {
		wg.Add(1)
		l.Post(func(any) error { fn(l); wg.Done(); return nil }, nil)
	}
	wg.Wait()
}

// Live is the number of sessions open across the group.
func (g *Group) Live() int64 {
	var n int64
	for _, l := range g.Loops {
		n += l.Conns.Load()
	}
	return n
}

// Stop stops every loop, closing whatever is still registered.
func (g *Group) Stop() {
	for _, l := range g.Loops {
		l.Post(func(any) error { return errLoopStop }, nil)
	}
	g.wg.Wait()
}
