package route

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// Jump tables only appear in tables with runs of branching nodes, which
// the differential tests' small alphabets rarely build. These tests use
// numbered segments, as large generated route sets have, and mix in
// prefix routes and parameters that land inside a jump's interior.

// genNumURI draws a uri over numbered segments. Only updates (late) put
// prefix routes and parameters where a built table has its jumps'
// interiors, so that jumps exist first and are then dropped.
func genNumURI(rng *rand.Rand, late bool) string {
	n := rng.IntN(400)
	if late && rng.IntN(8) == 0 {
		// prefix routes and parameters at every depth of the first bytes
		return []string{
			"/:p/x", "/n*", "/n/*", "/m/:p", fmt.Sprintf("/n/%d*", n/100), fmt.Sprintf("/m/%d*", n/100),
			fmt.Sprintf("/n/%02d*", n/10), fmt.Sprintf("/m/%03d/:q", n), fmt.Sprintf("/m/%03d:z/%d", n, n%3),
		}[rng.IntN(9)]
	}
	switch x := rng.IntN(20); {
	case x < 7:
		return fmt.Sprintf("/n/%03d/x", n)
	case x < 10:
		return fmt.Sprintf("/n/%03d/:p", n)
	case x < 12:
		return fmt.Sprintf("/n/%03d", n)
	case x < 13:
		return fmt.Sprintf("/n/%03d/*rest", n)
	case x < 14:
		return fmt.Sprintf("/n/%02d*", n/10) // a prefix route inside the digits
	case x < 15:
		return fmt.Sprintf("/n/%d/:p", n/100) // a parameter after one digit
	case x < 16:
		return fmt.Sprintf("/n/%02d", n/10) // an exact route inside the digits
	case x < 18:
		return fmt.Sprintf("/m/%04d/%d", n*7, n%3)
	default:
		return fmt.Sprintf("/n/%03d%d/y", n, rng.IntN(3))
	}
}

func genNumPath(rng *rand.Rand) string {
	var b strings.Builder
	b.WriteString([]string{"/n/", "/m/", "/n/", "/n"}[rng.IntN(4)])
	for i, n := 0, rng.IntN(6); i < n; i++ {
		b.WriteByte(byte('0' + rng.IntN(5)))
	}
	b.WriteString([]string{"", "/x", "/y", "/", "/1", "/x/z", "7/y", ":z/1", "/0"}[rng.IntN(9)])
	return b.String()
}

// jumpCount returns how many nodes of t have a jump.
func jumpCount(t *Table) int {
	n := 0
	for i := 1; i < len(t.a.nodes); i++ {
		if s, _ := jumpOf(t.a.words, &t.a.nodes[i]); s != 0 {
			n++
		}
	}
	return n
}

func TestJumpsDifferential(t *testing.T) {
	var m Match
	jumps := 0
	for seed := uint64(0); seed < 8; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		ref := &linear{}
		for i := 0; i < 250; i++ {
			ref.put(Spec{ID: fmt.Sprint("r", i), URI: genNumURI(rng, false), Priority: rng.IntN(2)})
		}
		r := New()
		if err := r.Build(ref.specs); err != nil {
			t.Fatal(err)
		}
		jumps += jumpCount(r.Table())
		for step := 0; step < 100; step++ {
			id := fmt.Sprint("r", rng.IntN(280))
			if rng.IntN(3) == 0 {
				if r.Delete(id) == nil {
					ref.del(id)
				}
			} else {
				s := Spec{ID: id, URI: genNumURI(rng, true), Priority: rng.IntN(2)}
				if rng.IntN(5) == 0 {
					s.URI, s.URIs = "", []string{genNumURI(rng, true), genNumURI(rng, true)}
				}
				if err := r.Put(s); err != nil {
					t.Fatal(err)
				}
				ref.put(s)
			}
			if err := checkTable(r.Table()); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			for i := 0; i < 25; i++ {
				g := genReq{method: "GET", path: genNumPath(rng)}
				if !compareOne(t, r, ref, g, &m) {
					t.Fatalf("seed %d step %d", seed, step)
				}
			}
			if step%25 == 0 {
				fresh := New()
				if err := fresh.Build(ref.specs); err != nil {
					t.Fatal(err)
				}
				if a, b := dumpTable(r.Table(), false), dumpTable(fresh.Table(), false); a != b {
					t.Fatalf("seed %d step %d: tree shape differs from a fresh build", seed, step)
				}
				if a, b := dumpTable(compacted(r), true), dumpTable(fresh.Table(), true); a != b {
					t.Fatalf("seed %d step %d: compacted tree differs from a fresh build\ncompacted:\n%s\nfresh:\n%s", seed, step, a, b)
				}
			}
		}
	}
	if jumps == 0 {
		t.Fatal("no route set built a jump: the test checks nothing")
	}
}

// TestJumpsIncremental grows a numbered table one route at a time, so
// that compactions plan jumps on the way, then shrinks it again.
func TestJumpsIncremental(t *testing.T) {
	r := New()
	var ids []string
	sawJump := false
	for i := 0; i < 6000; i++ {
		id := fmt.Sprint(i)
		if err := r.Insert(Spec{ID: id, URI: fmt.Sprintf("/t/%05d/:x", i*7%10000)}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		sawJump = sawJump || jumpCount(r.Table()) > 0
	}
	if !sawJump {
		t.Fatal("6000 numbered routes inserted one by one never got a jump")
	}
	if err := checkTable(r.Table()); err != nil {
		t.Fatal(err)
	}
	var m Match
	for i := 0; i < 6000; i += 7 {
		req := &Request{Method: []byte("GET"), Path: fmt.Appendf(nil, "/t/%05d/q", i*7%10000)}
		if rt := r.Lookup(req, &m); rt == nil || rt.ID != fmt.Sprint(i) {
			t.Fatalf("%s: got %v", req.Path, rt)
		}
	}
	for _, id := range ids {
		if err := r.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	if !emptyTable(r.Table()) {
		t.Fatalf("not empty:\n%s", dumpTable(r.Table(), true))
	}
}
