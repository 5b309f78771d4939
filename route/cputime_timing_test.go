package route

import (
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The machines these benchmarks run on are shared, so wall time includes
// other processes' turns on the core. Alongside it the benchmarks report
// CPU time, which only counts this process's work.

// threadCPU is CLOCK_THREAD_CPUTIME_ID: the CPU time of the calling
// thread (pin the goroutine with runtime.LockOSThread).
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// processCPU is user plus system time of the whole process, GC workers
// included.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

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
