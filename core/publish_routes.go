package core

// Publishing a snapshot that differs from the one in force only in some
// routes (Delta.RoutesOnly: the etcd provider built it from that one)
// touches those routes alone: the upstreams, services and stream routes are
// the same objects, so their names stay resolved and their health checkers
// stay attached; only the inline upstreams of the changed routes may come
// or go.

// routesOnly says whether snap, about to be published, differs from the
// snapshot in force only in the routes its Delta names.
func (s *Store) routesOnly(snap *Snapshot) bool {
	d := snap.Delta
	return d != nil && d.RoutesOnly && d.Base != nil && d.Base == s.cur.Load()
}

// changedRouteUpstreams calls fn with the inline upstreams, in the base
// snapshot and in snap, of each route snap.Delta names.
func changedRouteUpstreams(snap *Snapshot, fn func(id string, was, is *UpstreamSet)) {
	base := snap.Delta.Base
	for k := range snap.Delta.Changed {
		if len(k) <= len(KindRoutes)+1 || k[:len(KindRoutes)+1] != KindRoutes+"/" {
			continue
		}
		id := k[len(KindRoutes)+1:]
		was, is := base.RouteUpstreams[id], snap.RouteUpstreams[id]
		if was != nil || is != nil {
			fn(id, was, is)
		}
	}
}

// trackRoutes is track for a route-only snapshot: unless a changed route's
// inline upstream has host names (before or now), the names tracked for
// owner are those of the snapshot in force, unchanged.
func (r *Resolver) trackRoutes(owner *Store, snap *Snapshot) {
	named := false
	changedRouteUpstreams(snap, func(_ string, was, is *UpstreamSet) {
		for _, us := range [2]*UpstreamSet{was, is} {
			if us != nil && us.spec != nil && len(us.spec.names) > 0 {
				named = true
			}
		}
	})
	if named {
		r.track(owner, snap)
	}
}

// attachRoutes is attach for a route-only snapshot: checkers come for the
// changed routes' inline upstreams that have checks and go for those that
// no longer do; every other checker serves the same upstream as before.
func (h *Health) attachRoutes(snap *Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	changedRouteUpstreams(snap, func(id string, _, is *UpstreamSet) {
		key := KindRoutes + "/" + id
		c := h.checkers[key]
		if is == nil || is.checks == nil {
			if c != nil {
				delete(h.checkers, key)
				c.close()
			}
			return
		}
		if c == nil {
			c = &checker{h: h, key: key}
			h.checkers[key] = c
			if h.group != nil {
				c.loop = h.pickLoop()
			}
		}
		c.update(is)
	})
}
