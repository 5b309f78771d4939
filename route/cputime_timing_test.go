package route

import (
	"runtime"
	"testing"
)

// The machines these benchmarks run on are shared, so wall time includes
// other processes' turns on the core. Alongside it the benchmarks report
// CPU time, which only counts this process's work.

// cpuPerOp pins the benchmark to its thread and, when the returned func
// runs, reports the thread's CPU time per op as cpu-ns/op.
func cpuPerOp(b *testing.B) func() {
	runtime.LockOSThread()
	c0 := threadCPU()
	return func() {
		b.ReportMetric(float64(threadCPU()-c0)/float64(b.N), "cpu-ns/op")
		runtime.UnlockOSThread()
	}
}
