package core

import (
	"container/heap"
)

// Schedule sizes. A schedule is one period of the smooth weighted order,
// Σweight/gcd entries. Building it by nginx's own algorithm costs a pass
// over the nodes per entry, so that is done while entries × nodes stays
// small; bigger periods use the earliest-deadline order, which spreads each
// node's turns just as evenly at O(log nodes) per entry. A period longer
// than maxSchedule is scaled down, rounding each weight but keeping it at
// least 1.
const (
	maxSchedule = 1 << 16
	maxExactRR  = 1 << 20
)

// smoothSchedule returns the order in which smooth weighted round-robin
// visits nodes (all of positive weight).
func smoothSchedule(nodes []int32, weights []int32) []int32 {
	if len(nodes) == 0 {
		return nil
	}
	w := make([]int64, len(nodes))
	var g, sum int64
	for i, n := range nodes {
		w[i] = int64(weights[n])
		g = gcd(g, w[i])
	}
	for i := range w {
		w[i] /= g
		sum += w[i]
	}
	if limit := int64(max(maxSchedule, len(nodes))); sum > limit {
		old := sum
		g, sum = 0, 0
		for i := range w {
			w[i] = max(1, (w[i]*limit+old/2)/old)
		}
		for i := range w {
			g = gcd(g, w[i])
		}
		for i := range w {
			w[i] /= g
			sum += w[i]
		}
	}
	out := make([]int32, 0, sum)
	if sum*int64(len(nodes)) <= maxExactRR {
		cur := make([]int64, len(nodes))
		for range sum {
			best := -1
			for i := range w {
				cur[i] += w[i]
				if best < 0 || cur[i] > cur[best] {
					best = i
				}
			}
			cur[best] -= sum
			out = append(out, nodes[best])
		}
		return out
	}
	// Earliest deadline: node i's k-th turn is due at (k+½)/w[i].
	h := &deadlines{w: w, k: make([]int64, len(w))}
	for i := range w {
		h.idx = append(h.idx, i)
	}
	heap.Init(h)
	for range sum {
		i := h.idx[0]
		out = append(out, nodes[i])
		h.k[i]++
		heap.Fix(h, 0)
	}
	return out
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

type deadlines struct {
	idx []int
	w   []int64
	k   []int64 // turns taken so far
}

func (h *deadlines) Len() int { return len(h.idx) }
func (h *deadlines) Less(a, b int) bool {
	i, j := h.idx[a], h.idx[b]
	// (2k_i+1)/(2w_i) < (2k_j+1)/(2w_j); ties by node order.
	l, r := (2*h.k[i]+1)*h.w[j], (2*h.k[j]+1)*h.w[i]
	if l != r {
		return l < r
	}
	return i < j
}
func (h *deadlines) Swap(a, b int) { h.idx[a], h.idx[b] = h.idx[b], h.idx[a] }
func (h *deadlines) Push(any)      {}
func (h *deadlines) Pop() any      { return nil }
