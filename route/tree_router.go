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
	root  *node
	exact *exactIndex
	count int // routes
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
	gen  uint64            // last write generation
}

// New returns a Router with an empty table.
func New() *Router {
	r := &Router{byID: map[string]*Route{}}
	r.cur.Store(&Table{root: &node{}})
	return r
}

// Table returns the current version.
func (r *Router) Table() *Table { return r.cur.Load() }

// Lookup matches req on the current version; see Table.Lookup.
func (r *Router) Lookup(req *Request, m *Match) *Route { return r.cur.Load().Lookup(req, m) }

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
	r.gen++
	w := writer{gen: r.gen, bulk: true}
	root := &node{gen: w.gen}
	var exact *exactIndex
	for _, rt := range routes {
		r.seq++
		rt.setSeq(r.seq)
		for i := range rt.entries {
			e := &rt.entries[i]
			root = w.insert(root, e)
			if e.pat.exact {
				exact = w.exactChange(exact, e, true)
			}
		}
	}
	compact(root)
	r.byID = byID
	r.cur.Store(&Table{root: root, exact: exact, count: len(routes)})
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
			var ca compileArena
			for i := lo; i < hi; i++ {
				if err := compileInto(&specs[i], &all[i], entries[offs[i]:offs[i]:offs[i+1]], &ca); err != nil {
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
	t := r.cur.Load()
	r.gen++
	w := writer{gen: r.gen}
	root, exact := t.root, t.exact
	count := t.count + 1
	if old != nil {
		rt.setSeq(old.seq)
		var err error
		if root, exact, err = removeRoute(&w, root, exact, old); err != nil {
			return err
		}
		count--
	} else {
		r.seq++
		rt.setSeq(r.seq)
	}
	for i := range rt.entries {
		e := &rt.entries[i]
		root = w.insert(root, e)
		if e.pat.exact {
			exact = w.exactChange(exact, e, true)
		}
	}
	r.byID[rt.ID] = rt
	r.cur.Store(&Table{root: root, exact: exact, count: count})
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
	t := r.cur.Load()
	r.gen++
	w := writer{gen: r.gen}
	root, exact, err := removeRoute(&w, t.root, t.exact, old)
	if err != nil {
		return err
	}
	delete(r.byID, id)
	r.cur.Store(&Table{root: root, exact: exact, count: t.count - 1})
	return nil
}

func removeRoute(w *writer, root *node, exact *exactIndex, rt *Route) (*node, *exactIndex, error) {
	for i := range rt.entries {
		e := &rt.entries[i]
		var ok bool
		if root, ok = w.remove(root, e); !ok {
			// Only a bug can get here; refuse the change instead of
			// publishing a tree that still holds half of the route.
			return nil, nil, fmt.Errorf("route: internal error: uri %q of %q missing from the tree", e.pat.raw, rt.ID)
		}
		if e.pat.exact {
			exact = w.exactChange(exact, e, false)
		}
	}
	return root, exact, nil
}

// Route returns the route with id from the current version.
func (r *Router) Route(id string) *Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id]
}
