package core

import (
	"testing"
	"time"
)

type fired struct {
	order *[]string
	name  string
}

func (f *fired) OnTimer(*Timer) { *f.order = append(*f.order, f.name) }

func TestWheelFiresInOrderAndDisarms(t *testing.T) {
	var w wheel
	start := time.Unix(1000, 0)
	w.init(start)
	var order []string
	var t1, t2, t3, t4 Timer
	w.Arm(&t1, 30*time.Millisecond, &fired{&order, "30ms"})
	w.Arm(&t2, 10*time.Millisecond, &fired{&order, "10ms"})
	w.Arm(&t3, 20*time.Millisecond, &fired{&order, "cancelled"})
	w.Arm(&t4, 5*time.Second, &fired{&order, "5s"}) // more than one turn of the wheel
	w.Disarm(&t3)
	for ms := 0; ms <= 100; ms += 5 {
		w.now = start.Add(time.Duration(ms) * time.Millisecond)
		w.advance(w.now)
	}
	if len(order) != 2 || order[0] != "10ms" || order[1] != "30ms" {
		t.Fatalf("fired %v", order)
	}
	if !t4.Armed() || w.n != 1 {
		t.Fatalf("long timer armed=%v, %d pending", t4.Armed(), w.n)
	}
	// 2.6 s later (a full turn passes unseen): still not due.
	w.now = start.Add(2600 * time.Millisecond)
	w.advance(w.now)
	if len(order) != 2 {
		t.Fatalf("fired early: %v", order)
	}
	w.now = start.Add(5100 * time.Millisecond)
	w.advance(w.now)
	if len(order) != 3 || order[2] != "5s" || w.n != 0 || w.untilNext() != -1 {
		t.Fatalf("fired %v, %d pending", order, w.n)
	}
}

// A handler may re-arm or cancel other timers of the same slot while the
// wheel is firing.
type chain struct {
	w     *wheel
	other *Timer
	count *int
}

func (c *chain) OnTimer(*Timer) {
	*c.count++
	c.w.Disarm(c.other)
}

func TestWheelHandlerDisarmsNeighbour(t *testing.T) {
	var w wheel
	start := time.Unix(0, 0)
	w.init(start)
	var a, b Timer
	n := 0
	w.Arm(&a, 10*time.Millisecond, &chain{&w, &b, &n})
	w.Arm(&b, 10*time.Millisecond, &chain{&w, &a, &n})
	w.now = start.Add(50 * time.Millisecond)
	w.advance(w.now)
	if n != 1 || w.n != 0 {
		t.Fatalf("%d fired, %d pending; want exactly one to fire and cancel the other", n, w.n)
	}
}

// An idle loop with a pending timer sleeps until each tick instead of
// spinning: over 300 ms it runs a few dozen rounds, not millions.
func TestLoopWithTimerDoesNotSpin(t *testing.T) {
	l, err := NewLoop(0, 4096)
	if err != nil {
		t.Fatal(err)
	}
	go l.Run()
	defer l.Stop()
	var tm Timer
	rounds := func() int64 {
		ch := make(chan int64)
		l.Post(func(any) error {
			if !tm.Armed() {
				l.wheel.Arm(&tm, time.Hour, timerFunc(func() {}))
			}
			// Work past a tick boundary, so the next tick is already due
			// when the loop next asks epoll how long to wait.
			for start := time.Now(); time.Since(start) < 25*time.Millisecond; {
			}
			ch <- l.rounds
			return nil
		}, nil)
		return <-ch
	}
	before := rounds()
	time.Sleep(300 * time.Millisecond)
	if n := rounds() - before; n > 200 {
		t.Fatalf("%d loop rounds in 300 ms with one distant timer pending", n)
	}
}

type timerFunc func()

func (f timerFunc) OnTimer(*Timer) { f() }

// Handlers of a round, of events and of timers alike, read the clock of
// that round. An idle timeout re-arms lazily by comparing Ticks with an
// activity stamp: with the clock of the round before a long sleep, a read
// timeout fired a whole sleep late (0.5 s took 1 s).
func TestWheelTicksIsTheRoundsTime(t *testing.T) {
	var w wheel
	start := time.Unix(0, 0)
	w.init(start)
	var tm Timer
	seen := int64(-1)
	w.Arm(&tm, 500*time.Millisecond, timerFunc(func() { seen = w.Ticks() }))
	w.setNow(start.Add(600 * time.Millisecond))
	if got := w.Ticks(); got != 60 {
		t.Fatalf("an event handler of the round at 600 ms reads tick %d, want 60", got)
	}
	w.advance(w.now)
	if seen != 60 {
		t.Fatalf("the timer due at 500 ms, fired in the round at 600 ms, read tick %d, want 60", seen)
	}
}
