package routecmp

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/julienschmidt/httprouter"

	"github.com/sluice-gateway/sluice/route"
)

// A set is n routes of one shape and the request that reaches route i.
// Both shapes are free of what httprouter calls conflicts, so all three
// routers hold exactly the same routes.
type set struct {
	name string
	uri  func(i int) string
	path func(i int) string
	// params is how many captures a match yields, to check each router.
	params int
}

var sets = []set{
	{
		name: "static",
		uri:  func(i int) string { return fmt.Sprintf("/api/svc%05d/res%03d/items", i/100, i%100) },
		path: func(i int) string { return fmt.Sprintf("/api/svc%05d/res%03d/items", i/100, i%100) },
	},
	{
		name:   "param",
		uri:    func(i int) string { return fmt.Sprintf("/api/svc%05d/r%d/:id/orders/:order", i/10, i%10) },
		path:   func(i int) string { return fmt.Sprintf("/api/svc%05d/r%d/12345/orders/678", i/10, i%10) },
		params: 2,
	},
}

var sizes = []int{10, 1_000, 100_000}

// probes spreads 8 requests over the set, the same way route's own
// benchmarks do.
func probes(s *set, n int) []string {
	ps := make([]string, 8)
	for k := range ps {
		ps[k] = s.path(k * (n - 1) / 7)
	}
	return ps
}

func BenchmarkRouters(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	for i := range sets {
		s := &sets[i]
		for _, n := range sizes {
			paths := probes(s, n)
			b.Run(fmt.Sprintf("%s/n=%d/sluice", s.name, n), func(b *testing.B) { benchSluice(b, s, n, paths) })
			b.Run(fmt.Sprintf("%s/n=%d/httprouter", s.name, n), func(b *testing.B) { benchHTTPRouter(b, s, n, paths) })
			b.Run(fmt.Sprintf("%s/n=%d/gin", s.name, n), func(b *testing.B) { benchGin(b, s, n, paths) })
		}
	}
}

func benchSluice(b *testing.B, s *set, n int, paths []string) {
	specs := make([]route.Spec, n)
	for i := range specs {
		specs[i] = route.Spec{ID: fmt.Sprint(i), URI: s.uri(i)}
	}
	r := route.New()
	if err := r.Build(specs); err != nil {
		b.Fatal(err)
	}
	reqs := make([]route.Request, len(paths))
	for k, p := range paths {
		reqs[k].Method, reqs[k].Path = []byte("GET"), []byte(p)
	}
	var m route.Match
	for k := range reqs {
		if rt := r.Lookup(&reqs[k], &m); rt == nil || len(m.Params) != s.params {
			b.Fatalf("sluice: %s not matched", paths[k])
		}
	}
	t := r.Table()
	b.ReportAllocs()
	defer cpuPerOp(b)()
	k := 0
	for b.Loop() {
		t.Lookup(&reqs[k&7], &m)
		k++
	}
}

// benchHTTPRouter times Router.Lookup, httprouter's tree lookup without
// the ServeHTTP around it (the method's tree, then getValue).
func benchHTTPRouter(b *testing.B, s *set, n int, paths []string) {
	r := httprouter.New()
	h := func(http.ResponseWriter, *http.Request, httprouter.Params) {}
	for i := 0; i < n; i++ {
		r.GET(s.uri(i), h)
	}
	for _, p := range paths {
		if h, ps, _ := r.Lookup("GET", p); h == nil || len(ps) != s.params {
			b.Fatalf("httprouter: %s not matched", p)
		}
	}
	b.ReportAllocs()
	defer cpuPerOp(b)()
	k := 0
	for b.Loop() {
		r.Lookup("GET", paths[k&7])
		k++
	}
}

// benchGin times Engine.ServeHTTP with an empty handler: gin does not
// export its tree, so this is the closest it offers to a lookup, and it
// includes taking a Context from its pool and running the handler chain.
func benchGin(b *testing.B, s *set, n int, paths []string) {
	e := gin.New()
	hits := 0
	for i := 0; i < n; i++ {
		e.GET(s.uri(i), func(c *gin.Context) {
			if len(c.Params) == s.params {
				hits++
			}
		})
	}
	reqs := make([]*http.Request, len(paths))
	for k, p := range paths {
		reqs[k] = &http.Request{Method: "GET", URL: &url.URL{Path: p}}
	}
	w := &nopWriter{h: http.Header{}}
	for _, req := range reqs {
		e.ServeHTTP(w, req)
	}
	if hits != len(reqs) {
		b.Fatalf("gin: %d of %d probes matched", hits, len(reqs))
	}
	b.ReportAllocs()
	defer cpuPerOp(b)()
	k := 0
	for b.Loop() {
		e.ServeHTTP(w, reqs[k&7])
		k++
	}
}

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

// cpuPerOp pins the benchmark to its thread and, when the returned func
// runs, reports the thread's CPU time per op (CLOCK_THREAD_CPUTIME_ID) as
// cpu-ns/op: on a shared machine wall time also counts other processes'
// turns on the core.
func cpuPerOp(b *testing.B) func() {
	runtime.LockOSThread()
	c0 := threadCPU()
	return func() {
		b.ReportMetric(float64(threadCPU()-c0)/float64(b.N), "cpu-ns/op")
		runtime.UnlockOSThread()
	}
}
