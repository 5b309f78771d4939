//go:build !race

package core

import (
	"strconv"
	"testing"
	"time"
)

// Picking a node allocates nothing, for every kind, first try or retry,
// with nodes down or not.
func TestBalancerPickAllocs(t *testing.T) {
	for _, kind := range []BalanceKind{BalanceRoundRobin, BalanceCHash, BalanceEWMA, BalanceLeastConn} {
		for _, n := range []int{4, 1000} {
			addrs, weights, prios := testNodes(n)
			for i := range weights {
				weights[i] = 1 + i%3
				prios[i] = i % 2
			}
			b := NewBalancer(kind, addrs, weights, prios, 2)
			key := []byte("user-1")
			i := 0
			for _, exclude := range []uint64{0, 1 | 4} {
				if exclude != 0 {
					// With health checks and nodes down, also past 64.
					c := testChecker(b, addrs)
					c.force(2, stateUnhealthy)
					c.force(n-1, stateUnhealthy)
				}
				allocs := testing.AllocsPerRun(1000, func() {
					i++
					key = strconv.AppendInt(key[:5], int64(i), 10)
					node := b.Pick(1, key, exclude)
					b.Done(1, node, time.Millisecond, false)
				})
				if allocs != 0 {
					t.Errorf("kind %d, %d nodes, exclude %b: %v allocations per pick", kind, n, exclude, allocs)
				}
			}
		}
	}
}
