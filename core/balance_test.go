package core

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// testNodes returns n addresses 10.x.y.z:80 and equal weights and priorities.
func testNodes(n int) (addrs []netip.AddrPort, weights, prios []int) {
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		addrs = append(addrs, netip.AddrPortFrom(a, 80))
		weights = append(weights, 1)
		prios = append(prios, 0)
	}
	return
}

func weighted(kind BalanceKind, weights []int) *Balancer {
	addrs, _, prios := testNodes(len(weights))
	return NewBalancer(kind, addrs, weights, prios, 1)
}

func TestRoundRobinSmoothAndSkips(t *testing.T) {
	b := weighted(BalanceRoundRobin, []int{5, 1, 1})
	var seq []int
	for range 14 {
		seq = append(seq, b.Pick(0, nil, 0))
	}
	// nginx's smooth sequence for 5,1,1: a a b a c a a, and again.
	want := []int{0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0}
	for i := range want {
		if seq[i] != want[i] {
			t.Fatalf("sequence %v, want %v", seq, want)
		}
	}
	if got := b.Pick(0, nil, 1|2); got != 2 {
		t.Errorf("with nodes 0 and 1 tried, picked %d", got)
	}
	if got := b.Pick(0, nil, 7); got != -1 {
		t.Errorf("with every node tried, picked %d", got)
	}
}

// The schedule matches a direct run of nginx's algorithm, also where it is
// built by earliest deadline (a long period over many nodes): every window
// of Σw picks gives each node its weight, and no node waits much longer
// than its fair gap.
func TestRoundRobinScheduleSmooth(t *testing.T) {
	for _, weights := range [][]int{{5, 1, 1}, {3, 3, 2}, {100, 1}, {7, 11, 13, 17, 19}, nil} {
		if weights == nil { // 2,000 nodes of weights 1..10: the deadline path
			for i := range 2000 {
				weights = append(weights, 1+i%10)
			}
		}
		nodes := make([]int32, len(weights))
		w32 := make([]int32, len(weights))
		sum := 0
		for i, w := range weights {
			nodes[i], w32[i] = int32(i), int32(w)
			sum += w
		}
		s := smoothSchedule(nodes, w32)
		if len(s) != sum/gcdAll(weights) {
			t.Fatalf("%d weights: schedule of %d, want %d", len(weights), len(s), sum/gcdAll(weights))
		}
		count := make([]int, len(weights))
		last := make([]int, len(weights))
		for i := range last {
			last[i] = -1
		}
		for i, n := range append(s, s...) { // wrap around once
			if i < len(s) {
				count[n]++
			}
			if last[n] >= 0 {
				gap := i - last[n]
				fair := float64(len(s)) * float64(gcdAll(weights)) / float64(weights[n])
				if float64(gap) > 2*fair+1 {
					t.Fatalf("weights %v: node %d waited %d picks, fair gap %.1f", short(weights), n, gap, fair)
				}
			}
			last[n] = i
		}
		for i, w := range weights {
			if count[i] != w/gcdAll(weights) {
				t.Fatalf("weights %v: node %d picked %d times per period, want %d", short(weights), i, count[i], w/gcdAll(weights))
			}
		}
	}
}

func short(w []int) string {
	if len(w) > 8 {
		return fmt.Sprintf("%v… (%d)", w[:8], len(w))
	}
	return fmt.Sprint(w)
}

func gcdAll(w []int) int {
	g := int64(0)
	for _, x := range w {
		g = gcd(g, int64(x))
	}
	return int(g)
}

// Every kind spreads picks by weight: rr, ewma and least_conn when nodes
// answer alike and at once, chash over many keys.
func TestBalancerWeightDistribution(t *testing.T) {
	weights := []int{1, 2, 3, 4, 0}
	const picks = 100000
	for _, kind := range []BalanceKind{BalanceRoundRobin, BalanceCHash, BalanceEWMA, BalanceLeastConn} {
		b := weighted(kind, weights)
		count := make([]int, len(weights))
		var key []byte
		for i := range picks {
			key = strconv.AppendInt(key[:0], int64(i), 10)
			n := b.Pick(0, key, 0)
			count[n]++
			b.Done(0, n, time.Millisecond, false)
		}
		tol := 0.01
		if kind == BalanceCHash {
			tol = 0.15 // ring variance at ringPoints per unit of weight
		}
		for i, w := range weights {
			want := float64(picks) * float64(w) / 10
			if math.Abs(float64(count[i])-want) > tol*float64(picks)*float64(max(w, 1))/10 {
				t.Errorf("kind %d: node %d (weight %d) got %d of %d picks, want ≈%.0f", kind, i, w, count[i], picks, want)
			}
		}
	}
}

// least_conn with exchanges held open: the active counts follow the
// weights, and a node that frees up is the next one picked.
func TestLeastConnHeld(t *testing.T) {
	b := weighted(BalanceLeastConn, []int{1, 2, 3})
	var held []int
	count := make([]int, 3)
	for range 60 {
		n := b.Pick(0, nil, 0)
		held = append(held, n)
		count[n]++
	}
	if count[0] != 10 || count[1] != 20 || count[2] != 30 {
		t.Fatalf("60 held exchanges over weights 1,2,3 landed %v", count)
	}
	// Free two on node 0: it is now the least loaded per weight.
	for _, i := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11} {
		if held[i] == 0 {
			b.Done(0, 0, -1, false)
			count[0]--
			if count[0] == 8 {
				break
			}
		}
	}
	if n := b.Pick(0, nil, 0); n != 0 {
		t.Errorf("picked %d, want the freed node 0 (active %v)", n, count)
	}
	if n := b.Pick(0, nil, 1); n == 0 {
		t.Errorf("picked excluded node 0")
	}
}

// ewma steers away from a slow node and back to it once its average fades.
func TestEWMAPrefersFast(t *testing.T) {
	b := weighted(BalanceEWMA, []int{1, 1, 1})
	count := make([]int, 3)
	for range 3000 {
		n := b.Pick(0, nil, 0)
		lat := time.Millisecond
		if n == 2 {
			lat = 50 * time.Millisecond
		}
		count[n]++
		b.Done(0, n, lat, false)
	}
	if count[2]*5 > count[0] {
		t.Errorf("slow node 2 got %v of picks", count)
	}
	// A failure counts as a slow answer.
	b = weighted(BalanceEWMA, []int{1, 1})
	for range 10 {
		n := b.Pick(0, nil, 0)
		b.Done(0, n, time.Millisecond, n == 1)
	}
	count = make([]int, 2)
	for range 100 {
		n := b.Pick(0, nil, 0)
		count[n]++
		b.Done(0, n, time.Millisecond, false)
	}
	if count[1] > 40 {
		t.Errorf("failing node 1 still got %v of picks", count)
	}
}

// Lower priority groups are used only when every node above is excluded.
func TestPriorityFallback(t *testing.T) {
	addrs, weights, _ := testNodes(5)
	prios := []int{10, 10, 0, 0, -5}
	for _, kind := range []BalanceKind{BalanceRoundRobin, BalanceCHash, BalanceEWMA, BalanceLeastConn} {
		b := NewBalancer(kind, addrs, weights, prios, 2)
		for i := range 50 {
			key := []byte(strconv.Itoa(i))
			if n := b.Pick(1, key, 0); n != 0 && n != 1 {
				t.Fatalf("kind %d: picked %d from a lower group with the top one available", kind, n)
			}
			if n := b.Pick(1, key, 1); n != 1 {
				t.Fatalf("kind %d: node 0 excluded: picked %d, want 1", kind, n)
			}
			if n := b.Pick(1, key, 1|2); n != 2 && n != 3 {
				t.Fatalf("kind %d: top group excluded: picked %d, want 2 or 3", kind, n)
			}
			if n := b.Pick(1, key, 1|2|4|8); n != 4 {
				t.Fatalf("kind %d: two groups excluded: picked %d, want 4", kind, n)
			}
			if n := b.Pick(1, key, 31); n != -1 {
				t.Fatalf("kind %d: all excluded: picked %d", kind, n)
			}
		}
	}
}

// share is the exact fraction of the hash space each node owns on a ring.
func (r *ring) share(nodes int) []float64 {
	s := make([]float64, nodes)
	for i := range r.hash {
		prev := r.hash[len(r.hash)-1]
		if i > 0 {
			prev = r.hash[i-1]
		}
		// Point i owns (prev, hash[i]]; uint32 arithmetic wraps around.
		s[r.node[i]] += float64(r.hash[i]-prev) / (1 << 32)
	}
	return s
}

func chashOf(addrs []netip.AddrPort) *Balancer {
	w := make([]int, len(addrs))
	p := make([]int, len(addrs))
	for i := range w {
		w[i] = 1
	}
	return NewBalancer(BalanceCHash, addrs, w, p, 1)
}

// Removing a node moves exactly the keys it owned, and adding one moves only
// keys to it; either way at most 1.2/N of them, for every node.
func TestCHashRemap(t *testing.T) {
	for _, n := range []int{4, 10, 100, 1000} {
		addrs, _, _ := testNodes(n + 1)
		b := chashOf(addrs[:n])
		// Removal moves a node's share: the largest is the worst case.
		worst := 0.0
		for _, s := range b.groups[0].ring.share(n) {
			worst = max(worst, s)
		}
		if worst > 1.2/float64(n) {
			t.Errorf("N=%d: one node owns %.4f of keys (> 1.2/N = %.4f); removing it moves them all", n, worst, 1.2/float64(n))
		}
		grown := chashOf(addrs)
		added := grown.groups[0].ring.share(n + 1)[n]
		t.Logf("N=%d: removing the largest node moves %.3f/N of keys, adding one %.3f/N", n, worst*float64(n), added*float64(n))
		if added > 1.2/float64(n) {
			t.Errorf("N=%d: an added node takes %.4f of keys (> 1.2/N)", n, added)
		}
		// And by keys: every key either stays or moves to the new node.
		shrunk := chashOf(append(append([]netip.AddrPort(nil), addrs[:n/2]...), addrs[n/2+1:n]...))
		moved, gone := 0, 0
		const keys = 20000
		var key []byte
		for i := range keys {
			key = strconv.AppendInt(append(key[:0], "user-"...), int64(i), 10)
			was := b.Pick(0, key, 0)
			if now := grown.Pick(0, key, 0); now != was {
				if now != n {
					t.Fatalf("N=%d: adding a node moved key %s from %d to %d", n, key, was, now)
				}
				moved++
			}
			// shrunk's indexes past n/2 are one lower.
			now := shrunk.Pick(0, key, 0)
			if now >= n/2 {
				now++
			}
			if now != was {
				if was != n/2 {
					t.Fatalf("N=%d: removing node %d moved key %s from %d to %d", n, n/2, key, was, now)
				}
				gone++
			}
		}
		if n <= 100 && float64(moved) > 1.3*keys/float64(n) {
			t.Errorf("N=%d: adding a node moved %d of %d keys", n, moved, keys)
		}
	}
}

// Two independent builds, in different node orders, give every key the
// same address: the ring depends only on the node set.
func TestCHashStable(t *testing.T) {
	addrs, _, _ := testNodes(50)
	a := chashOf(addrs)
	rev := make([]netip.AddrPort, len(addrs))
	for i := range addrs {
		rev[len(addrs)-1-i] = addrs[i]
	}
	b := chashOf(rev)
	for i := range 10000 {
		key := []byte("k" + strconv.Itoa(i))
		if x, y := addrs[a.Pick(0, key, 0)], rev[b.Pick(0, key, 0)]; x != y {
			t.Fatalf("key %s: %v in one build, %v in the other", key, x, y)
		}
	}
	// A fixed key and node set give a fixed node, across processes too.
	if got := addrs[a.Pick(0, []byte("stable"), 0)]; got.String() != wantStable {
		t.Errorf(`"stable" maps to %v, want %s: the ring's hash changed, which remaps every key on upgrade`, got, wantStable)
	}
	// An excluded node's keys go on to the next node of the ring, and the
	// others stay.
	key := []byte("k1")
	first := a.Pick(0, key, 0)
	if first < 64 {
		if next := a.Pick(0, key, 1<<first); next == first || next < 0 {
			t.Errorf("excluding %d: picked %d", first, next)
		}
	}
}

// wantStable pins the ring: fnv64 and mix64 of the address, ringPoints.
const wantStable = "10.0.0.32:80"

func TestParseHashKey(t *testing.T) {
	cases := []struct {
		on, key, want string
	}{
		{"", "remote_addr", "[{1 }]"},
		{"vars", "arg_user", "[{10 user}]"},
		{"vars", "http_x_user_id", "[{11 x-user-id}]"},
		{"vars", "cookie_sid", "[{12 sid}]"},
		{"header", "X-User", "[{11 X-User}]"},
		{"cookie", "sid", "[{12 sid}]"},
		{"vars_combinations", "$host-${uri}:\\$x", "[{8 } {0 -} {5 } {0 :$x}]"},
		{"vars_combinations", "$nope", "unknown variable"},
		{"vars", "", "chash needs a key"},
		{"consumer", "", "not supported yet"},
	}
	for _, tc := range cases {
		k, err := ParseHashKey(tc.on, tc.key)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = fmt.Sprint(k.Parts)
		}
		if !contains(got, tc.want) {
			t.Errorf("%s %q: got %s, want %s", tc.on, tc.key, got, tc.want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// From the file: list nodes with priorities and a chash key compile into
// the upstream's balancer, and the map form's nodes have priority 0.
func TestUpstreamBalancerFromConfig(t *testing.T) {
	snap, err := loadRoutes(t, streamCfg, `upstreams:
  - id: p
    type: chash
    hash_on: header
    key: X-User
    nodes:
      - {host: 127.0.0.1, port: 1, weight: 1, priority: -1}
      - {host: 127.0.0.1, port: 2, weight: 1, priority: 2}
      - {host: 127.0.0.1, port: 3, weight: 1, priority: 2}
  - id: m
    type: least_conn
    nodes: {"127.0.0.1:4": 1, "127.0.0.1:5": 3}
`)
	if err != nil {
		t.Fatal(err)
	}
	u := snap.Upstreams["p"]
	ub := u.Nodes().Bal
	if ub.Kind() != BalanceCHash || ub.Hash == nil || fmt.Sprint(ub.Hash.Parts) != "[{11 X-User}]" {
		t.Fatalf("balancer %d, hash %+v", ub.Kind(), ub.Hash)
	}
	for i := range 20 {
		key := []byte(strconv.Itoa(i))
		if n := ub.Pick(0, key, 0); n != 1 && n != 2 {
			t.Fatalf("key %s: picked node %d of priority -1 with priority 2 available", key, n)
		}
		if n := ub.Pick(0, key, 1<<1|1<<2); n != 0 {
			t.Fatalf("key %s: priority-2 nodes tried, picked %d", key, n)
		}
	}
	if m := snap.Upstreams["m"].Nodes().Bal; m.Kind() != BalanceLeastConn || m.Hash != nil || len(m.groups) != 1 {
		t.Fatalf("map-form upstream: kind %d, %d groups", m.Kind(), len(m.groups))
	}
}
