package core

import (
	"fmt"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The machines these run on are shared: besides wall time the benchmarks
// report the thread's CPU time per op (cpu-ns/op), which other processes'
// turns on the core do not inflate.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

func cpuPerOp(b *testing.B) func() {
	runtime.LockOSThread()
	c0 := threadCPU()
	return func() {
		b.ReportMetric(float64(threadCPU()-c0)/float64(b.N), "cpu-ns/op")
		runtime.UnlockOSThread()
	}
}

var benchKinds = []struct {
	name string
	kind BalanceKind
}{{"roundrobin", BalanceRoundRobin}, {"chash", BalanceCHash}, {"ewma", BalanceEWMA}, {"least_conn", BalanceLeastConn}}

// Pick cost per balancer at 4 and 1,000 nodes (weights 1..3, one
// priority). chash hashes a different 10-byte key each time (from a
// prepared set, so building keys is not measured); ewma and least_conn
// include the Done each pick owes.
func BenchmarkPick(b *testing.B) {
	keys := make([][]byte, 4096)
	for i := range keys {
		keys[i] = []byte("user-" + strconv.Itoa(100000+i*7919))
	}
	for _, k := range benchKinds {
		for _, n := range []int{4, 1000} {
			b.Run(fmt.Sprintf("%s/%d", k.name, n), func(b *testing.B) {
				addrs, weights, prios := testNodes(n)
				for i := range weights {
					weights[i] = 1 + i%3
				}
				bal := NewBalancer(k.kind, addrs, weights, prios, 1)
				b.ReportAllocs()
				i := 0
				done := cpuPerOp(b)
				for b.Loop() {
					node := bal.Pick(0, keys[i&4095], 0)
					bal.Done(0, node, time.Millisecond, false)
					i++
				}
				done()
			})
		}
	}
	// least_conn with every node busy (one exchange held on each): the
	// scan cannot stop at an idle node.
	b.Run("least_conn-busy/1000", func(b *testing.B) {
		addrs, weights, prios := testNodes(1000)
		bal := NewBalancer(BalanceLeastConn, addrs, weights, prios, 1)
		for range 1000 {
			bal.Pick(0, nil, 0)
		}
		b.ReportAllocs()
		done := cpuPerOp(b)
		for b.Loop() {
			bal.Done(0, bal.Pick(0, nil, 0), -1, false)
		}
		done()
	})
	// With health checks: a view attached and no node down (what every
	// checked upstream pays), and 10 of 1,000 nodes down, 4 of them at
	// index 64 and above (the exclusion then covers every node).
	for _, k := range benchKinds[:2] {
		for _, down := range []int{0, 10} {
			b.Run(fmt.Sprintf("%s-checked-%ddown/1000", k.name, down), func(b *testing.B) {
				addrs, weights, prios := testNodes(1000)
				for i := range weights {
					weights[i] = 1 + i%3
				}
				bal := NewBalancer(k.kind, addrs, weights, prios, 1)
				SetLogLevel("error") // marking nodes down logs each one
				defer SetLogLevel("info")
				c := testChecker(bal, addrs)
				for i := range down {
					c.force(i*20, stateUnhealthy)
				}
				b.ReportAllocs()
				i := 0
				done := cpuPerOp(b)
				for b.Loop() {
					bal.Pick(0, keys[i&4095], 0)
					i++
				}
				done()
			})
		}
	}
	// A retry: the first node tried is excluded (two picks per op).
	b.Run("roundrobin-retry/1000", func(b *testing.B) {
		addrs, weights, prios := testNodes(1000)
		bal := NewBalancer(BalanceRoundRobin, addrs, weights, prios, 1)
		b.ReportAllocs()
		done := cpuPerOp(b)
		for b.Loop() {
			n := bal.Pick(0, nil, 0)
			if n < 64 {
				bal.Pick(0, nil, 1<<n)
			}
		}
		done()
	})
}

// Building balancers at 1,000 nodes (what a snapshot rebuild pays per
// upstream).
func BenchmarkBuild1000(b *testing.B) {
	for _, k := range benchKinds {
		b.Run(k.name, func(b *testing.B) {
			addrs, weights, prios := testNodes(1000)
			for i := range weights {
				weights[i] = 1 + i%3
			}
			b.ReportAllocs()
			for b.Loop() {
				NewBalancer(k.kind, addrs, weights, prios, 4)
			}
		})
	}
}
