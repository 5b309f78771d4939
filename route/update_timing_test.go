package route

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"
)

// BenchmarkUpdate100k inserts one route into a table of 100k routes (the
// four mixes interleaved) and deletes it again, timing each operation
// alone. The done-when figures are the p99s it reports; run it with
// -benchtime 30000x or more for a p99.9 worth reading.
func BenchmarkUpdate100k(b *testing.B) {
	const n = 100_000
	r := New()
	if err := r.Build(mixedSpecs(n)); err != nil {
		b.Fatal(err)
	}
	shapes := []func(i int) Spec{
		func(i int) Spec {
			return Spec{ID: "new", URI: fmt.Sprintf("/api/svc%05d/res%03d/extra", i%1000, i%100)}
		},
		func(i int) Spec { return Spec{ID: "new", URI: fmt.Sprintf("/api/svc%05d/r%d/:id/x/:y", i%10000, i%10)} },
		func(i int) Spec {
			return Spec{ID: "new", URI: fmt.Sprintf("/t/%06d/about", i%25000), Hosts: []string{"*.example.com"}, Methods: []string{"GET"}}
		},
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	runtime.GC()
	var ins, del, insCPU, delCPU []time.Duration
	i := 0
	for b.Loop() {
		s := shapes[i%len(shapes)](i * 7919)
		c0, t0 := threadCPU(), time.Now()
		if err := r.Insert(s); err != nil {
			b.Fatal(err)
		}
		c1, t1 := threadCPU(), time.Now()
		if err := r.Delete("new"); err != nil {
			b.Fatal(err)
		}
		c2, t2 := threadCPU(), time.Now()
		ins, insCPU = append(ins, t1.Sub(t0)), append(insCPU, c1-c0)
		del, delCPU = append(del, t2.Sub(t1)), append(delCPU, c2-c1)
		i++
	}
	if r.Table().Len() != n {
		b.Fatalf("table has %d routes", r.Table().Len())
	}
	b.ReportMetric(quantile(ins, 0.50), "insert-p50-µs")
	b.ReportMetric(quantile(ins, 0.99), "insert-p99-µs")
	b.ReportMetric(quantile(ins, 0.999), "insert-p99.9-µs")
	b.ReportMetric(quantile(insCPU, 0.99), "insert-p99-cpu-µs")
	b.ReportMetric(quantile(del, 0.50), "delete-p50-µs")
	b.ReportMetric(quantile(del, 0.99), "delete-p99-µs")
	b.ReportMetric(quantile(del, 0.999), "delete-p99.9-µs")
	b.ReportMetric(quantile(delCPU, 0.99), "delete-p99-cpu-µs")
	// The slowest of all: an update that compacts the arena (tree_compact.go).
	b.ReportMetric(quantile(append(ins, del...), 1), "max-µs")
}

func quantile(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return float64(ds[int(q*float64(len(ds)-1))]) / float64(time.Microsecond)
}

// BenchmarkBuild100k is the bulk load at start-up: compile and build 100k
// routes (the four mixes interleaved) into one published table.
func BenchmarkBuild100k(b *testing.B) {
	specs := mixedSpecs(100_000)
	b.ReportAllocs()
	runtime.GC()
	var cpu time.Duration
	for b.Loop() {
		c0 := processCPU()
		r := New()
		if err := r.Build(specs); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - c0
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}
