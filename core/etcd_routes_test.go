package core

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/testnet"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A change to routes alone is built from the last snapshot
// (etcd_routes.go); whatever the changes, the snapshot published is the
// one a build from scratch of the same resources gives: the same routes in
// the same order, the same inline upstreams (the same objects for routes
// that did not change, so their balancer state goes on), the same health
// checkers, the same stream routes. Snapshots already published never
// change. The changes: random puts, deletes and re-creations of routes,
// with inline upstreams (some health-checked), with references to
// upstreams and services that do not exist, values that do not decode,
// routes a compile hook refuses, and now and then a change to an upstream
// (which builds everything) in between.
func TestRouteChangesMatchFullBuild(t *testing.T) {
	refuse := func(snap *Snapshot) error {
		for _, r := range snap.Routes {
			if r.URI == "/refused" {
				return fmt.Errorf("routes/%s: refused", r.ID)
			}
		}
		return nil
	}
	// As the stream plugin hook does, each snapshot's stream targets get
	// what its compile hooks make of them.
	stamp := func(snap *Snapshot) error {
		for _, t := range snap.StreamTargets() {
			t.Compiled = snap
		}
		return nil
	}
	store := &Store{DNS: NewResolver(etcdTestConfig()), Compile: []func(*Snapshot) error{refuse, stamp}}
	t.Cleanup(store.DNS.Close)
	p := NewEtcdProvider(etcdTestConfig(), nil, store, 1, "")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("seed %d", seed)

	rev := int64(1)
	created := map[string]int64{}
	event := func(key, val string) *clientv3.Event {
		rev++
		if val == "" {
			delete(created, key)
			return &clientv3.Event{Type: mvccpb.DELETE, Kv: &mvccpb.KeyValue{Key: []byte(key), ModRevision: rev}}
		}
		if created[key] == 0 {
			created[key] = rev
		}
		return &clientv3.Event{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{Key: []byte(key), Value: []byte(val), CreateRevision: created[key], ModRevision: rev}}
	}
	checks := `"checks":{"active":{"type":"tcp","healthy":{"interval":60},"unhealthy":{"interval":60}}}`
	routeJSON := func(i int) string {
		uri := fmt.Sprintf(`"uri":"/r/%d/%d"`, i, rng.IntN(1000))
		switch x := rng.IntN(24); {
		case x < 8:
			return fmt.Sprintf(`{%s,"upstream_id":"u%d"}`, uri, rng.IntN(2))
		case x < 12:
			return fmt.Sprintf(`{%s,"upstream":{"nodes":{"127.0.0.1:%d":1}}}`, uri, 7100+rng.IntN(50))
		case x < 14:
			return fmt.Sprintf(`{%s,"upstream":{"nodes":{"127.0.0.1:%d":1},%s}}`, uri, 7100+rng.IntN(50), checks)
		case x < 15:
			return fmt.Sprintf(`{%s,"service_id":"s1"}`, uri)
		case x < 16:
			return fmt.Sprintf(`{%s,"upstream_id":"nope"}`, uri) // left out by the build
		case x < 17:
			return `{"uri":"/refused","upstream_id":"u0"}` // left out by the hook
		case x < 18:
			return `{"upstream_id":"u0"}` // no uri
		case x < 19:
			return `{"uri":"/x","upstream_id":"u0","no_such_field":1}` // does not decode
		case x < 20:
			return fmt.Sprintf(`{%s,"status":0,"upstream_id":"u1"}`, uri)
		default:
			return fmt.Sprintf(`{%s,"upstream_id":"u%d","priority":%d}`, uri, rng.IntN(2), rng.IntN(3))
		}
	}
	var first []*clientv3.Event
	first = append(first, event("/sluice/upstreams/u0", `{"nodes":{"127.0.0.1:7000":1}}`),
		event("/sluice/upstreams/u1", `{"nodes":{"127.0.0.1:7001":1},`+checks+`}`),
		event("/sluice/stream_routes/s", `{"server_port":9100,"upstream":{"nodes":{"127.0.0.1:7200":1},`+checks+`}}`))
	for i := range 20 {
		first = append(first, event(fmt.Sprintf("/sluice/routes/r%02d", i), routeJSON(i)))
	}
	p.mu.Lock()
	p.apply(first)
	p.mu.Unlock()
	if err := p.publish(); err != nil {
		t.Fatal(err)
	}

	type seen struct {
		snap *Snapshot
		ids  []string
	}
	var published []seen
	incremental := 0
	for step := range 400 {
		prev := store.Load()
		var evs []*clientv3.Event
		touched := map[string]bool{}
		for range 1 + rng.IntN(4) {
			i := rng.IntN(30)
			k := fmt.Sprintf("/sluice/routes/r%02d", i)
			touched[k] = true
			switch x := rng.IntN(20); {
			case x < 3:
				evs = append(evs, event(k, ""))
			case x < 4: // re-created: a new place in creation order
				evs = append(evs, event(k, ""), event(k, routeJSON(i)))
			default:
				evs = append(evs, event(k, routeJSON(i)))
			}
		}
		switch rng.IntN(25) {
		case 0:
			evs = append(evs, event("/sluice/upstreams/u1", fmt.Sprintf(`{"nodes":{"127.0.0.1:%d":1},%s}`, 7001+rng.IntN(3), checks)))
		case 1:
			if created["/sluice/services/s1"] == 0 {
				evs = append(evs, event("/sluice/services/s1", `{"upstream_id":"u0"}`))
			} else {
				evs = append(evs, event("/sluice/services/s1", ""))
			}
		}
		p.mu.Lock()
		p.apply(evs)
		p.mu.Unlock()
		if err := p.publish(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		snap := store.Load()
		if snap.Delta != nil {
			t.Fatalf("step %d: the published snapshot keeps its delta", step)
		}
		routesOnly := true
		for _, ev := range evs {
			routesOnly = routesOnly && strings.HasPrefix(string(ev.Kv.Key), "/sluice/routes/")
		}
		if routesOnly {
			incremental++
		}

		// What a build from scratch makes of the same items.
		var items []*Item
		p.mu.Lock()
		for _, e := range p.order {
			if e.item != nil && refuse(&Snapshot{Routes: routesOf(e.item)}) == nil {
				items = append(items, e.item)
			}
		}
		p.mu.Unlock()
		want, err := BuildTolerant(p.cfg, items, "check", 1, func(*Item, error) {})
		if err != nil {
			t.Fatal(err)
		}
		if got, exp := routeIDs(snap), routeIDs(want); !slices.Equal(got, exp) {
			t.Fatalf("step %d (%d events): routes\n %v\nwant\n %v", step, len(evs), got, exp)
		}
		for i := range snap.Routes {
			if !reflect.DeepEqual(snap.Routes[i], want.Routes[i]) {
				t.Fatalf("step %d: route %s is %+v, want %+v", step, snap.Routes[i].ID, *snap.Routes[i], *want.Routes[i])
			}
		}
		if got, exp := upstreamSummary(snap.RouteUpstreams), upstreamSummary(want.RouteUpstreams); got != exp {
			t.Fatalf("step %d: inline upstreams\n %s\nwant\n %s", step, got, exp)
		}
		for id, us := range snap.RouteUpstreams {
			if !touched["/sluice/routes/"+id] && prev.RouteUpstreams[id] != nil && prev.RouteUpstreams[id] != us {
				t.Fatalf("step %d: route %s did not change, but its inline upstream was compiled again", step, id)
			}
		}
		var checkers, wantCheckers []string
		for _, c := range store.Health().Status("") {
			checkers = append(checkers, strings.TrimPrefix(c.Name, "/apisix/"))
		}
		for id, us := range want.RouteUpstreams {
			if us.checks != nil {
				wantCheckers = append(wantCheckers, "routes/"+id)
			}
		}
		wantCheckers = append(wantCheckers, "stream_routes/s", "upstreams/u1")
		slices.Sort(wantCheckers)
		if !slices.Equal(checkers, wantCheckers) {
			t.Fatalf("step %d: health checkers %v, want %v", step, checkers, wantCheckers)
		}
		for id, us := range snap.RouteUpstreams {
			if us.checks != nil && us.checker.Load() == nil {
				t.Fatalf("step %d: route %s's upstream has checks and no checker", step, id)
			}
		}
		if got := snap.StreamTargets(); len(got) != 1 || got[0].ID != "s" || got[0].Upstream.checker.Load() == nil {
			t.Fatalf("step %d: stream routes %+v", step, got)
		}
		if len(p.lastRoute) != len(snap.Routes) {
			t.Fatalf("step %d: the provider holds %d routes' items for %d routes", step, len(p.lastRoute), len(snap.Routes))
		}
		for _, r := range snap.Routes {
			if it := p.lastRoute[r.ID]; it == nil || it.Value.(*Route) != r && !reflect.DeepEqual(it.Value, r) {
				t.Fatalf("step %d: route %s: the provider holds %+v", step, r.ID, it)
			}
		}
		published = append(published, seen{snap, routeIDs(snap)})
	}
	// Snapshots once published are never written to.
	for i, s := range published {
		if got := routeIDs(s.snap); !slices.Equal(got, s.ids) {
			t.Fatalf("snapshot %d changed after it was published: %v, was %v", i, got, s.ids)
		}
		for _, tg := range s.snap.StreamTargets() {
			if tg.Compiled != s.snap {
				t.Fatalf("snapshot %d: stream route %s was compiled again by a later snapshot's hooks", i, tg.ID)
			}
		}
	}
	if incremental < 300 {
		t.Fatalf("only %d of 400 changes were to routes alone", incremental)
	}
	if p.last.Delta != nil {
		t.Fatal("the provider's last snapshot holds a delta")
	}
}

func routesOf(it *Item) []*Route {
	if r, ok := it.Value.(*Route); ok {
		return []*Route{r}
	}
	return nil
}

func routeIDs(s *Snapshot) []string {
	ids := make([]string, len(s.Routes))
	for i, r := range s.Routes {
		ids[i] = r.ID
	}
	return ids
}

func upstreamSummary(m map[string]*UpstreamSet) string {
	var out []string
	for id, us := range m {
		out = append(out, fmt.Sprintf("%s→%v", id, us.Nodes().Addrs))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// Publishing a change leaves the event loops alone unless it changes what
// they run: with 100 health-checked upstreams, 40 route changes and 10
// changes to an upstream nobody checks wake the loop that runs the checks
// a handful of times, not once per change (before: every publish sent
// every checker to its loop again).
func TestChangesLeaveLoopsAlone(t *testing.T) {
	g, err := NewGroup(1, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	defer g.Stop()
	store := &Store{DNS: NewResolver(etcdTestConfig())}
	t.Cleanup(store.DNS.Close)
	store.Health().Start(g)
	p := NewEtcdProvider(etcdTestConfig(), nil, store, 1, "")
	rev := int64(1)
	put := func(key, val string, cr int64) *clientv3.Event {
		rev++
		if cr == 0 {
			cr = rev
		}
		return &clientv3.Event{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{Key: []byte(key), Value: []byte(val), CreateRevision: cr, ModRevision: rev}}
	}
	publish := func(evs ...*clientv3.Event) {
		t.Helper()
		p.mu.Lock()
		p.apply(evs)
		p.mu.Unlock()
		if err := p.publish(); err != nil {
			t.Fatal(err)
		}
	}
	var evs []*clientv3.Event
	for i := range 100 {
		evs = append(evs, put(fmt.Sprintf("/sluice/upstreams/c%d", i), fmt.Sprintf(
			`{"nodes":{%q:1},"checks":{"active":{"type":"tcp","healthy":{"interval":60},"unhealthy":{"interval":60}}}}`, testnet.RefusedAddr(t)), 0))
	}
	evs = append(evs, put("/sluice/upstreams/x", `{"nodes":{"127.0.0.1:7000":1}}`, 0), put("/sluice/routes/r", `{"uri":"/r","upstream_id":"x"}`, 0))
	publish(evs...)
	rcr := rev
	h := store.Health()
	waitFor(t, "every checked node probed once", func() bool {
		st := h.Status("")
		if len(st) != 100 {
			return false
		}
		for _, c := range st {
			if c.Nodes[0].Counter.TCPFailure == 0 {
				return false
			}
		}
		return true
	})
	rounds := func() (n int64) {
		g.Each(func(l *Loop) { n = l.rounds })
		return n
	}
	before := rounds()
	for i := range 50 {
		if i%5 == 4 {
			publish(put("/sluice/upstreams/x", fmt.Sprintf(`{"nodes":{"127.0.0.1:%d":1}}`, 7000+i), 0))
		} else {
			publish(put("/sluice/routes/r", fmt.Sprintf(`{"uri":"/r/%d","upstream_id":"x"}`, i), rcr))
		}
	}
	if n := rounds() - before; n > 10 {
		t.Fatalf("the loop ran %d rounds for 50 changes that changed nothing it runs", n)
	}
}
