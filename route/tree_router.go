package route

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Table is one immutable version of the routing table. Lookups on a Table
// never lock and never see a later change; take one with Router.Table at
// the start of a request and use it throughout.
type Table struct {
	a     arena // the arena's arrays as published: later writers append past them
	root  uint32
	exact phash // exact uri -> its entry list
	count int   // routes
}

// Len returns the number of routes in t.
func (t *Table) Len() int { return t.count }

// Router publishes Tables. Writers (Build, Insert, Replace, Put, Delete)
// are serialised by a mutex and copy only the tree nodes along the changed
// paths; readers load the current Table with one atomic read.
type Router struct {
	cur atomic.Pointer[Table]

	mu   sync.Mutex        // writers only
	byID map[string]*Route // writers only: the published table's routes
	seq  uint64            // last configuration-order number given out
	a    arena             // writers only: the published table's arena, with its spare capacity
	dead arenaLen          // garbage in a
	plan planState
}

// New returns a Router with an empty table.
func New() *Router {
	r := &Router{byID: map[string]*Route{}, a: newArena(0)}
	r.a.nodes = append(r.a.nodes, node{})
	r.cur.Store(&Table{a: r.a, root: 1})
	return r
}

// Table returns the current version.
func (r *Router) Table() *Table { return r.cur.Load() }

// Lookup matches req on the current version; see Table.Lookup.
func (r *Router) Lookup(req *Request, m *Match) *Route { return r.cur.Load().Lookup(req, m) }

// writer starts an update of the published table.
func (r *Router) writer() writer {
	t := r.cur.Load()
	return writer{a: r.a, mark: r.a.lens(), root: t.root, exact: t.exact, dead: r.dead, plan: r.plan}
}

// publish makes w's tree the current table, compacting first when w left
// more garbage than live data behind.
func (r *Router) publish(w *writer, count int) {
	if w.needsCompaction() {
		*w = w.compact(w.wantsPlan())
	}
	r.a, r.dead, r.plan = w.a, w.dead, w.plan
	r.cur.Store(&Table{a: w.a, root: w.root, exact: w.exact, count: count})
}

// Build replaces the whole table with specs, in one publish. Their order
// is the configuration order that breaks ties. On error nothing changes.
func (r *Router) Build(specs []Spec) error {
	// Routes and entries come from two arrays rather than 2n allocations.
	offs := make([]int, len(specs)+1)
	for i := range specs {
		offs[i+1] = offs[i] + specs[i].uriCount()
	}
	all := make([]Route, len(specs))
	entries := make([]entry, offs[len(specs)])
	if err := compileAll(specs, all, entries, offs); err != nil {
		return err
	}
	routes := make([]*Route, len(specs))
	byID := make(map[string]*Route, len(specs))
	for i := range all {
		rt := &all[i]
		if _, dup := byID[rt.ID]; dup {
			return fmt.Errorf("%w: %q appears twice", ErrDuplicateID, rt.ID)
		}
		byID[rt.ID] = rt
		routes[i] = rt
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	w := writer{a: newArena(2 * len(entries)), bulk: true}
	w.root = w.newNode(node{})
	for _, rt := range routes {
		r.seq++
		rt.setSeq(r.seq)
		for i := range rt.entries {
			w.insert(&rt.entries[i])
		}
	}
	w.finishBulk()
	r.byID = byID
	r.a, r.dead, r.plan = w.a, w.dead, w.plan
	r.cur.Store(&Table{a: w.a, root: w.root, exact: w.exact, count: len(routes)})
	return nil
}

// compileAll compiles specs into all, each route's entries in its window
// of entries. Routes compile independently, so a large load is split over
// the processors; the tree itself is then built by one writer. The error
// returned is the first in spec order, whatever finished first.
func compileAll(specs []Spec, all []Route, entries []entry, offs []int) error {
	workers := runtime.GOMAXPROCS(0)
	if len(specs) < 4096 || workers < 2 {
		workers = 1
	}
	errs := make([]error, workers)
	per := (len(specs) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(specs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The arena's chunks pay off for many routes; a few (the
			// Admin API checks a write by building its route alone)
			// allocate their pieces one by one instead of 26 KB of chunk.
			var ca *compileArena
			if hi-lo >= arenaMin {
				ca = &compileArena{}
			}
			for i := lo; i < hi; i++ {
				if err := compileInto(&specs[i], &all[i], entries[offs[i]:offs[i]:offs[i+1]], ca); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Insert adds a route whose id is new.
func (r *Router) Insert(s Spec) error { return r.put(&s, putInsert) }

// Replace swaps the route with s.ID for s, keeping its place in
// configuration order (as an in-place update in APISIX does).
func (r *Router) Replace(s Spec) error { return r.put(&s, putReplace) }

// Put inserts s or replaces the route with the same id: what a config
// watch event asks for.
func (r *Router) Put(s Spec) error { return r.put(&s, putAny) }

type putMode uint8

const (
	putAny putMode = iota
	putInsert
	putReplace
)

func (r *Router) put(s *Spec, mode putMode) error {
	rt, err := compile(s)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.byID[rt.ID]
	switch {
	case old != nil && mode == putInsert:
		return fmt.Errorf("%w: %q", ErrDuplicateID, rt.ID)
	case old == nil && mode == putReplace:
		return fmt.Errorf("%w: %q", ErrNotFound, rt.ID)
	}
	w := r.writer()
	count := r.cur.Load().count + 1
	if old != nil {
		rt.setSeq(old.seq)
		if err := w.removeRoute(old); err != nil {
			return err
		}
		count--
	} else {
		r.seq++
		rt.setSeq(r.seq)
	}
	for i := range rt.entries {
		w.insert(&rt.entries[i])
	}
	r.byID[rt.ID] = rt
	r.publish(&w, count)
	return nil
}

// Delete removes the route with id.
func (r *Router) Delete(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.byID[id]
	if old == nil {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	w := r.writer()
	if err := w.removeRoute(old); err != nil {
		return err
	}
	delete(r.byID, id)
	r.publish(&w, r.cur.Load().count-1)
	return nil
}

// removeRoute takes every uri of rt off the tree. What it wrote before an
// error is past the published arrays and is simply not published.
func (w *writer) removeRoute(rt *Route) error {
	for i := range rt.entries {
		if e := &rt.entries[i]; !w.remove(e) {
			// Only a bug can get here; refuse the change instead of
			// publishing a tree that still holds half of the route.
			return fmt.Errorf("route: internal error: uri %q of %q missing from the tree", e.raw(), rt.ID)
		}
	}
	return nil
}

// Route returns the route with id from the current version.
func (r *Router) Route(id string) *Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id]
}
