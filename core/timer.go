package core

import "time"

// TimerHandler is told when its timer expires, on the loop's goroutine.
type TimerHandler interface {
	OnTimer(t *Timer)
}

// Timer is an intrusive entry in a loop's wheel: embed it in the object that
// owns the deadline, so arming and disarming allocate nothing.
type Timer struct {
	next, prev *Timer
	at         int64 // absolute tick
	h          TimerHandler
}

// Armed reports whether the timer is waiting to fire.
func (t *Timer) Armed() bool { return t.next != nil }

const (
	wheelTick  = 10 * time.Millisecond
	wheelSlots = 256
)

// wheel is a hashed timing wheel with 10 ms ticks. Deadlines beyond one turn
// stay in their slot and are skipped until their tick comes round; idle
// timeouts re-arm lazily (on expiry, check the last activity) so the data path
// never touches the wheel.
type wheel struct {
	epoch time.Time
	now   time.Time
	clock int64 // the tick of now: what Ticks reports
	cur   int64 // last tick processed
	n     int
	slots [wheelSlots]Timer // sentinels
}

func (w *wheel) init(now time.Time) {
	w.epoch, w.now, w.clock = now, now, 0
	for i := range w.slots {
		s := &w.slots[i]
		s.next, s.prev = s, s
	}
}

func (w *wheel) tickOf(t time.Time) int64 { return int64(t.Sub(w.epoch) / wheelTick) }

// setNow moves the loop's clock to now, once per round, before the round's
// events and timers run, so that both see the time they run at.
func (w *wheel) setNow(now time.Time) {
	w.now = now
	w.clock = w.tickOf(now)
}

// Arm schedules t to fire d from the loop's current time (rounded up to a tick).
func (w *wheel) Arm(t *Timer, d time.Duration, h TimerHandler) {
	if t.next != nil {
		w.Disarm(t)
	}
	at := w.tickOf(w.now.Add(d)) + 1
	if at <= w.cur {
		at = w.cur + 1
	}
	t.at, t.h = at, h
	s := &w.slots[at%wheelSlots]
	t.prev, t.next = s.prev, s
	s.prev.next = t
	s.prev = t
	w.n++
}

// Disarm cancels t; disarming an idle timer is a no-op.
func (w *wheel) Disarm(t *Timer) {
	if t.next == nil {
		return
	}
	t.prev.next = t.next
	t.next.prev = t.prev
	t.next, t.prev = nil, nil
	w.n--
}

// untilNext is the epoll timeout in ms: -1 with no timers, else until the
// next tick whose slot holds a timer (a timer a turn or more away wakes the
// loop once a turn, which is cheap; an idle loop does not wake every tick).
func (w *wheel) untilNext() int {
	if w.n == 0 {
		return -1
	}
	next := w.cur + wheelSlots
	for i := int64(1); i <= wheelSlots; i++ {
		s := &w.slots[(w.cur+i)%wheelSlots]
		if s.next != s {
			next = w.cur + i
			break
		}
	}
	d := time.Until(w.epoch.Add(time.Duration(next) * wheelTick))
	if d <= 0 {
		return 0
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

func (w *wheel) advance(now time.Time) {
	target := w.tickOf(now)
	if w.n == 0 {
		w.cur = target
		return
	}
	steps := target - w.cur
	if steps > wheelSlots {
		steps = wheelSlots
	}
	for i := int64(1); i <= steps; i++ {
		s := &w.slots[(w.cur+i)%wheelSlots]
		// A handler may disarm or re-arm any timer, so rescan after each fire
		// rather than hold a pointer that its callback could unlink.
	rescan:
		for t := s.next; t != s; t = t.next {
			if t.at <= target {
				w.Disarm(t)
				t.h.OnTimer(t)
				goto rescan
			}
		}
	}
	w.cur = target
}

// WheelTick is the wheel's resolution.
const WheelTick = wheelTick

// Ticks is the loop's clock in wheel ticks, refreshed once per batch of
// events (before its events and timers run): cheap enough to stamp activity
// on every read.
func (w *wheel) Ticks() int64 { return w.clock }
