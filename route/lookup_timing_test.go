package route

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"testing"
)

// A mix generates route i of a workload and the request that hits it.
// Every mix keeps its request paths at one length whatever the table size,
// so that the sizes compare like for like.
type mix struct {
	name  string
	spec  func(i int) Spec
	probe func(i int) *Request
}

var benchAddr = netip.MustParseAddr("10.20.30.40")

var mixes = []mix{
	{
		// "/api/svc00012/res034/items": static, 100 resources per service
		name: "static",
		spec: func(i int) Spec {
			return Spec{ID: fmt.Sprint(i), URI: fmt.Sprintf("/api/svc%05d/res%03d/items", i/100, i%100)}
		},
		probe: func(i int) *Request {
			return &Request{Method: []byte("GET"), Path: fmt.Appendf(nil, "/api/svc%05d/res%03d/items", i/100, i%100)}
		},
	},
	{
		// two parameters per route, 10 shapes per service
		name: "param",
		spec: func(i int) Spec {
			return Spec{ID: fmt.Sprint(i), URI: fmt.Sprintf("/api/svc%05d/r%d/:id/orders/:order", i/10, i%10)}
		},
		probe: func(i int) *Request {
			return &Request{Method: []byte("GET"), Path: fmt.Appendf(nil, "/api/svc%05d/r%d/12345/orders/678", i/10, i%10)}
		},
	},
	{
		// each route is one tenant: a wildcard host and a method list
		name: "wildcard-host",
		spec: func(i int) Spec {
			return Spec{ID: fmt.Sprint(i), URI: fmt.Sprintf("/t/%06d/home", i), Hosts: []string{fmt.Sprintf("*.t%06d.example.com", i), "static.example.com"},
				Methods: []string{"GET", "POST"}}
		},
		probe: func(i int) *Request {
			return &Request{Method: []byte("GET"), Path: fmt.Appendf(nil, "/t/%06d/home", i), Host: fmt.Appendf(nil, "www.t%06d.example.com", i)}
		},
	},
	{
		// four routes share each uri and are told apart by vars; the probe
		// matches the last-ranked one, so all four expressions run
		name: "vars",
		spec: func(i int) Spec {
			return Spec{ID: fmt.Sprint(i), URI: fmt.Sprintf("/v/%06d/:id", i/4), Priority: 4 - i%4,
				Vars: []any{
					[]any{"http_x_tenant", "==", fmt.Sprint("t", i%4)},
					[]any{"arg_v", "in", []any{"1", "2", "3"}},
					[]any{"remote_addr", "ipmatch", []any{"10.0.0.0/8", "192.168.0.0/16"}},
					[]any{"arg_n", ">", 5.0},
				}}
		},
		probe: func(i int) *Request {
			i = i/4*4 + 3 // the last of its group of four (sizes are multiples of 4 but 10)
			return &Request{Method: []byte("GET"), Path: fmt.Appendf(nil, "/v/%06d/42", i/4), RemoteAddr: benchAddr,
				Vars: &benchVars{tenant: fmt.Appendf(nil, "t%d", i%4)}}
		},
	},
}

// benchVars serves the vars mix without allocating, as the L7 pipeline's
// implementation over the codec's views will.
type benchVars struct{ tenant []byte }

var (
	argV = []byte("2")
	argN = []byte("9")
)

func (v *benchVars) Var(kind VarKind, name string) ([]byte, bool) {
	switch {
	case kind == VarHeader && name == "x-tenant":
		return v.tenant, true
	case kind == VarArg && name == "v":
		return argV, true
	case kind == VarArg && name == "n":
		return argN, true
	}
	return nil, false
}

var sizes = []int{10, 1_000, 10_000, 100_000}

// benchTables caches built tables: a 100k build takes a while and every
// b.Run of a size would repeat it.
var (
	benchMu     sync.Mutex
	benchTables = map[string]*Router{}
)

func benchRouter(b *testing.B, mx *mix, n int) *Router {
	benchMu.Lock()
	defer benchMu.Unlock()
	key := fmt.Sprint(mx.name, n)
	if r := benchTables[key]; r != nil {
		return r
	}
	specs := make([]Spec, n)
	for i := range specs {
		specs[i] = mx.spec(i)
	}
	r := New()
	if err := r.Build(specs); err != nil {
		b.Fatal(err)
	}
	benchTables[key] = r
	return r
}

// probeSet spreads 8 probes over the table, so that at 100k routes they
// walk different parts of the tree.
func probeSet(b *testing.B, mx *mix, r *Router, n int) []*Request {
	reqs := make([]*Request, 8)
	var m Match
	for k := range reqs {
		i := k * (n - 1) / 7
		if mx.name == "vars" {
			i = min(i, n/4*4-1)
		}
		reqs[k] = mx.probe(i)
		rt := r.Lookup(reqs[k], &m)
		if rt == nil || mx.name != "vars" && rt.ID != fmt.Sprint(i) {
			b.Fatalf("%s: probe %s found %v\n%s", mx.name, reqs[k].Path, rt, r.Table().Explain(reqs[k]))
		}
	}
	return reqs
}

// BenchmarkLookup: ns per lookup for each mix at 10 to 100k routes. The
// done-when ratio is n=100000 over n=10 within one run.
func BenchmarkLookup(b *testing.B) {
	for i := range mixes {
		mx := &mixes[i]
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/n=%d", mx.name, n), func(b *testing.B) {
				r := benchRouter(b, mx, n)
				reqs := probeSet(b, mx, r, n)
				runtime.GC() // leave no marking of the build to the timed loop
				t := r.Table()
				var m Match
				b.ReportAllocs()
				defer cpuPerOp(b)()
				k := 0
				for b.Loop() {
					t.Lookup(reqs[k&7], &m)
					k++
				}
			})
		}
	}
}

// BenchmarkLookupHot repeats one request, so that the table's size shows
// only through the walk's length, not through cache misses of probes
// spread over a big table.
func BenchmarkLookupHot(b *testing.B) {
	for i := range mixes[:2] {
		mx := &mixes[i]
		for _, n := range []int{10, 100_000} {
			b.Run(fmt.Sprintf("%s/n=%d", mx.name, n), func(b *testing.B) {
				r := benchRouter(b, mx, n)
				req := probeSet(b, mx, r, n)[3]
				runtime.GC()
				t := r.Table()
				var m Match
				b.ReportAllocs()
				defer cpuPerOp(b)()
				for b.Loop() {
					t.Lookup(req, &m)
				}
			})
		}
	}
}

// BenchmarkBytesPerRoute reports the heap a table of 100k routes holds
// (the static, param, wildcard-host and vars mixes in equal parts), per
// route, over and above the specs it was built from.
func BenchmarkBytesPerRoute(b *testing.B) {
	const n = 100_000
	specs := mixedSpecs(n)
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := New()
		if err := r.Build(specs); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/route")
		runtime.KeepAlive(r)
	}
}

// mixedSpecs interleaves the four mixes, each with its own id range.
func mixedSpecs(n int) []Spec {
	specs := make([]Spec, n)
	for i := range specs {
		s := mixes[i%len(mixes)].spec(i / len(mixes))
		s.ID = fmt.Sprint(i)
		specs[i] = s
	}
	return specs
}
