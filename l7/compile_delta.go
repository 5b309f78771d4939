package l7

import (
	"fmt"
	"strings"

	"github.com/sluice-gateway/sluice/core"
)

// compileDelta updates the router of the snapshot published before snap
// (snap.Delta.Base) for the routes that changed — their own resource, or
// the upstream they use — so a change costs what it touches, not a build
// of every route. Tables already published never change: the router copies
// the tree nodes along a changed path (route.Router).
//
// done is false when the update cannot be made exactly as a full build
// would make it, and Compile then builds everything:
//   - no delta, or the base's router has moved on (a snapshot compiled
//     after the base was not published);
//   - a change to a kind other than routes, upstreams and stream routes
//     (one the routes' targets or plugin chains may depend on in ways not
//     followed here: services, plugin configs, consumers, global rules,
//     plugin metadata), or to an upstream while there are services or
//     plugins (a route may use one through its service, or a plugin by id);
//   - every 64th update while plugins run, so that plugin state kept
//     across builds (plugin.Build.Keep) ages as it does with full builds;
//   - a route new to the router that is not the newest in configuration
//     order (re-enabled, or let in once its upstream appeared): the router
//     gives an added route the last place, a full build its place by
//     creation.
func (p *Plugins) compileDelta(snap *core.Snapshot) (done bool, err error) {
	d := snap.Delta
	if d == nil || d.Base == nil {
		return false, nil
	}
	base, ok := d.Base.HTTP.(*table)
	if !ok || base.router.Table() != base.t {
		return false, nil
	}
	ids := map[string]bool{}
	ups := map[string]bool{}
	for k := range d.Changed {
		kind, id, _ := strings.Cut(k, "/")
		switch kind {
		case core.KindRoutes:
			ids[id] = true
		case core.KindUpstreams:
			ups[id] = true
		case core.KindStreamRoutes:
		default:
			return false, nil
		}
	}
	if len(ups) > 0 && (len(snap.Services) > 0 || base.plugins) {
		// Routes may use an upstream through their service, or a plugin
		// (traffic-split) by id.
		return false, nil
	}
	// Plugin chains of changed routes are compiled with the base's build:
	// nothing it holds (consumers, global rules, metadata) has changed.
	// Plugin state a build keeps (Build.Keep) ages by full builds, so one
	// is made now and then while plugins run.
	b := base.build
	if (b == nil) != (p == nil || p.Registry == nil) || (base.plugins && base.deltas >= 64) {
		return false, nil
	}
	if b != nil {
		nb := *b
		nb.Upstream = func(id string) *core.UpstreamSet { return snap.Upstreams[id] }
		b = &nb
	}
	if len(ids) == 0 && len(ups) == 0 {
		snap.HTTP = base
		return true, nil
	}
	rt := base.router
	// Candidates: the changed routes and those using a changed upstream
	// before or after. Whatever of them is not in snap.Routes now is gone.
	cand := ids
	if len(ups) > 0 {
		for i := range d.Base.Routes {
			if r := d.Base.Routes[i]; ups[r.UpstreamID] {
				cand[r.ID] = true
			}
		}
	}
	gone := make(map[string]bool, len(cand))
	for id := range cand {
		gone[id] = true
	}
	var dels []string
	var put []int // indexes in snap.Routes, in configuration order
	firstNew := -1
	// visit looks at snap.Routes[i], in configuration order; false: the
	// router cannot be updated as a full build would make it.
	visit := func(i int, touched bool) bool {
		r := snap.Routes[i]
		if !touched {
			return firstNew < 0 || rt.Route(r.ID) == nil // else an older route after a new one
		}
		delete(gone, r.ID)
		known := rt.Route(r.ID) != nil
		if disabled(r) {
			if known {
				dels = append(dels, r.ID)
			}
			return true
		}
		if firstNew >= 0 && known {
			return false
		}
		if firstNew < 0 && !known {
			firstNew = i
		}
		put = append(put, i)
		return true
	}
	if d.RoutesOnly && len(ups) == 0 {
		// The snapshot says where the changed routes are: the others
		// need a look only after a new one.
		for _, i := range d.At {
			if !visit(i, true) {
				return false, nil
			}
		}
		for i, j := firstNew+1, 0; firstNew >= 0 && i < len(snap.Routes); i++ {
			for j < len(d.At) && d.At[j] < i {
				j++
			}
			if (j == len(d.At) || d.At[j] != i) && !visit(i, false) {
				return false, nil
			}
		}
	} else {
		for i, r := range snap.Routes {
			touched := cand[r.ID] || (r.UpstreamID != "" && ups[r.UpstreamID] && snap.RouteUpstreams[r.ID] == nil)
			if !visit(i, touched) {
				return false, nil
			}
		}
	}
	for id := range gone {
		if rt.Route(id) != nil {
			dels = append(dels, id)
		}
	}
	for _, id := range dels {
		if err := rt.Delete(id); err != nil {
			return true, fmt.Errorf("routes: %w", err)
		}
	}
	plugins := base.plugins
	for _, i := range put {
		spec, err := routeSpec(b, snap, i)
		if err != nil {
			return true, err
		}
		plugins = plugins || spec.Value.(*target).chain != nil
		if err := rt.Put(spec); err != nil {
			return true, fmt.Errorf("routes: %w", err)
		}
	}
	snap.HTTP = &table{router: rt, t: rt.Table(), build: b, plugins: plugins, deltas: base.deltas + 1}
	return true, nil
}
