package route

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Table is one immutable version of the routing table. Lookups on a Table
// never lock and never see a later change; take one with Router.Table at
// the start of a request and use it throughout.
type Table struct {
	root  *node
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
	nent := 0
	for i := range specs {
		nent += specs[i].uriCount()
	}
	all := make([]Route, len(specs))
	entries := make([]entry, nent)
	routes := make([]*Route, len(specs))
	byID := make(map[string]*Route, len(specs))
	for i := range specs {
		rt := &all[i]
		k := specs[i].uriCount()
		if err := compileInto(&specs[i], rt, entries[:0:k]); err != nil {
			return err
		}
		entries = entries[k:]
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
	for _, rt := range routes {
		r.seq++
		rt.setSeq(r.seq)
		for i := range rt.entries {
			root = w.insert(root, &rt.entries[i])
		}
	}
	compact(root)
	r.byID = byID
	r.cur.Store(&Table{root: root, count: len(routes)})
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
	root := t.root
	count := t.count + 1
	if old != nil {
		rt.setSeq(old.seq)
		var err error
		if root, err = removeRoute(&w, root, old); err != nil {
			return err
		}
		count--
	} else {
		r.seq++
		rt.setSeq(r.seq)
	}
	for i := range rt.entries {
		root = w.insert(root, &rt.entries[i])
	}
	r.byID[rt.ID] = rt
	r.cur.Store(&Table{root: root, count: count})
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
	root, err := removeRoute(&w, t.root, old)
	if err != nil {
		return err
	}
	delete(r.byID, id)
	r.cur.Store(&Table{root: root, count: t.count - 1})
	return nil
}

func removeRoute(w *writer, root *node, rt *Route) (*node, error) {
	for i := range rt.entries {
		var ok bool
		if root, ok = w.remove(root, &rt.entries[i]); !ok {
			// Only a bug can get here; refuse the change instead of
			// publishing a tree that still holds half of the route.
			return nil, fmt.Errorf("route: internal error: uri %q of %q missing from the tree", rt.entries[i].pat.raw, rt.ID)
		}
	}
	return root, nil
}

// Route returns the route with id from the current version.
func (r *Router) Route(id string) *Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id]
}
