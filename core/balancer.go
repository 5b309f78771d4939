package core

// RoundRobin is smooth weighted round-robin (the nginx algorithm): over any
// window of total-weight picks each node is chosen weight times, spread out
// rather than in runs. Each loop has its own state so picking takes no lock.
type RoundRobin struct {
	weights []int
	cur     [][]int // [loop][node]
}

// NewRoundRobin builds a balancer over weights for the given number of loops.
func NewRoundRobin(weights []int, loops int) *RoundRobin {
	b := &RoundRobin{weights: weights, cur: make([][]int, loops)}
	for i := range b.cur {
		b.cur[i] = make([]int, len(weights))
	}
	return b
}

// Pick returns the next node for loop, skipping nodes whose bit is set in
// tried (nodes past 64 are never skipped), or -1 when none is left.
func (b *RoundRobin) Pick(loop int, tried uint64) int {
	cur := b.cur[loop]
	best, total := -1, 0
	for i, w := range b.weights {
		if w <= 0 || (i < 64 && tried&(1<<i) != 0) {
			continue
		}
		cur[i] += w
		total += w
		if best < 0 || cur[i] > cur[best] {
			best = i
		}
	}
	if best >= 0 {
		cur[best] -= total
	}
	return best
}
