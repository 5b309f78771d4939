// Package cputime reports a benchmark's CPU time per op next to its wall
// time: the machines the benchmarks run on are shared, and wall time
// includes other processes' turns on the core. Only benchmarks import it.
package cputime

import (
	"runtime"
	"testing"
	"time"
)

// PerOp pins the benchmark to its thread; the func it returns reports the
// thread's CPU time per op as cpu-ns/op. Call it after setup:
//
//	defer cputime.PerOp(b)()
func PerOp(b *testing.B) func() {
	runtime.LockOSThread()
	b.ResetTimer()
	c0 := threadCPU()
	return func() {
		b.StopTimer()
		if b.N > 0 {
			b.ReportMetric(float64(threadCPU()-c0)/float64(b.N), "cpu-ns/op")
		}
		runtime.UnlockOSThread()
	}
}

// Process is the process's user plus system CPU time, for parallel
// benchmarks (every goroutine's and the GC's work).
func Process() time.Duration { return processCPU() }
