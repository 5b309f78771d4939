package core

import "testing"

// The pool keeps what the busiest moment needed, and frees over one trim
// period only what nobody used during it.
func TestBufPoolTrimsUnusedOnly(t *testing.T) {
	p := bufPool{size: 1024, max: 4096}
	var held [][]byte
	for range 100 { // a burst: 100 in flight
		held = append(held, p.get())
	}
	for _, b := range held {
		p.put(b)
	}
	p.trim() // the burst used them all this period: keep all
	if len(p.free) != 100 {
		t.Fatalf("after a busy period kept %d, want 100", len(p.free))
	}
	held = held[:0]
	for range 30 { // a quieter period: at most 30 in flight
		held = append(held, p.get())
	}
	for _, b := range held {
		p.put(b)
	}
	p.trim()
	if len(p.free) != 30 {
		t.Fatalf("after a period needing 30 kept %d spare, want 30 (the 70 unused freed)", len(p.free))
	}
	p.trim() // an idle period
	if len(p.free) != 0 {
		t.Fatalf("after an idle period kept %d", len(p.free))
	}
}
