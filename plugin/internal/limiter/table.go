package limiter

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// shards is how many independently locked parts a Table has: enough that
// loops counting different keys rarely meet on one lock.
const shards = 64

// Entry is the constraint on a Table's entries: a type whose pointer
// reports when the table may forget it.
type Entry[E any] interface {
	*E
	// Idle reports whether the entry holds nothing a fresh one would not
	// at epoch (the caller's clock: a window index, nanoseconds). An idle
	// entry is dropped by the next sweep of its shard.
	Idle(epoch int64) bool
}

// Table maps keys to entries of type E in shards, each behind a
// read-write lock. Get finds a key's entry under its shard's read lock,
// which the caller holds while it updates the entry with atomics, so a
// sweep (under the write lock) never drops an entry mid-update. The
// shards (8 KiB) are made by the first Get, so that a route whose limit
// never sees a request costs a few words. Its zero value is not ready:
// use NewTable.
type Table[E any, P Entry[E]] struct {
	seed  maphash.Seed
	every int64
	sh    atomic.Pointer[Shards[E]]
}

// Shards are a table's shards.
type Shards[E any] [shards]shard[E]

type shard[E any] struct {
	mu   sync.RWMutex
	m    map[string]*E
	next int64 // epoch of the next sweep
	_    [128 - 24 - 8 - 8]byte
}

// NewTable makes a table whose shards are swept at most once per every
// (in epoch units), when a key is added.
func NewTable[E any, P Entry[E]](every int64) *Table[E, P] {
	return &Table[E, P]{seed: maphash.MakeSeed(), every: max(every, 1)}
}

// Held is a shard lock Get took; Release it once the entry is updated.
type Held struct {
	mu    *sync.RWMutex
	write bool
}

// Release unlocks the shard; the zero Held (no lock taken) does nothing.
func (h Held) Release() {
	if h.mu == nil {
		return
	}
	if h.write {
		h.mu.Unlock()
	} else {
		h.mu.RUnlock()
	}
}

// Get returns key's entry, adding a fresh one when there is none (the
// only allocation: the key's string and the entry), and the lock to
// release after updating it. epoch is the caller's clock, for sweeps.
func (t *Table[E, P]) Get(key []byte, epoch int64) (*E, Held) {
	sh := t.sh.Load()
	if sh == nil {
		t.sh.CompareAndSwap(nil, new(Shards[E]))
		sh = t.sh.Load()
	}
	s := &sh[maphash.Bytes(t.seed, key)&(shards-1)]
	s.mu.RLock()
	if e := s.m[string(key)]; e != nil {
		return e, Held{mu: &s.mu}
	}
	s.mu.RUnlock()
	s.mu.Lock()
	e := s.m[string(key)]
	if e == nil {
		if s.m == nil {
			s.m = make(map[string]*E)
		}
		if epoch >= s.next {
			s.next = epoch + t.every
			for k, x := range s.m {
				if P(x).Idle(epoch) {
					delete(s.m, k)
				}
			}
		}
		e = new(E)
		s.m[string(key)] = e
	}
	return e, Held{mu: &s.mu, write: true}
}

// Len counts the entries (for tests and metrics; it takes every lock).
func (t *Table[E, P]) Len() int {
	n := 0
	sh := t.sh.Load()
	if sh == nil {
		return 0
	}
	for i := range sh {
		s := &sh[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
