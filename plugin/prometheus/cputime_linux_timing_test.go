//go:build linux

package prometheus_test

import (
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// cpuPerOp reports the benchmark's CPU time per op (cpu-ns/op) besides
// ns/op, which on a shared machine includes time the thread was not
// running. Call it first; it pins the goroutine to its thread.
func cpuPerOp(b *testing.B) {
	runtime.LockOSThread()
	t0 := threadCPU()
	b.Cleanup(func() {
		if b.N > 0 {
			b.ReportMetric(float64(threadCPU()-t0)/float64(b.N), "cpu-ns/op")
		}
		runtime.UnlockOSThread()
	})
}

func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}
