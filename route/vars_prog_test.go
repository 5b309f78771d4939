package route

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestPrefixHas checks the encoded prefixes against netip.Prefix.Contains
// on random addresses and prefixes, v4 and v6, near and far.
func TestPrefixHas(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randAddr := func(v6 bool) netip.Addr {
		if v6 {
			var b [16]byte
			for i := range b {
				b[i] = byte(rng.IntN(4)) // few values, so that prefixes often hold the address
			}
			return netip.AddrFrom16(b)
		}
		var b [4]byte
		for i := range b {
			b[i] = byte(rng.IntN(4))
		}
		return netip.AddrFrom4(b)
	}
	for i := 0; i < 20000; i++ {
		pv6, av6 := rng.IntN(2) == 0, rng.IntN(2) == 0
		pa := randAddr(pv6)
		p := netip.PrefixFrom(pa, rng.IntN(pa.BitLen()+1)).Masked()
		a := randAddr(av6)
		if rng.IntN(10) == 0 {
			a = p.Addr()
		}
		enc := appendPrefix(nil, p)
		if got, want := prefixHas(enc, a), p.Contains(a); got != want {
			t.Fatalf("%v holds %v: got %v, want %v", p, a, got, want)
		}
		if got := decodePrefix(enc); got != p {
			t.Fatalf("decode %v: got %v", p, got)
		}
	}
	zoned := netip.MustParseAddr("fe80::1%eth0")
	p := netip.MustParsePrefix("fe80::/64")
	if prefixHas(appendPrefix(nil, p), zoned) || p.Contains(zoned) {
		t.Error("an address with a zone is in no prefix")
	}
	if prefixHas(appendPrefix(nil, netip.Prefix{}), netip.MustParseAddr("1.2.3.4")) {
		t.Error("the invalid prefix holds nothing")
	}
}

// TestExplainAndForm names the failing clause of an ["AND", ...] rule by
// its position among the clauses, as for the list form.
func TestExplainAndForm(t *testing.T) {
	r := mustBuild(t, Spec{ID: "v", URI: "/x", Vars: []any{"AND", []any{"arg_a", "==", "1"}, []any{"arg_b", "==", "2"}}})
	req := &Request{Method: []byte("GET"), Path: []byte("/x"), Vars: &testVars{args: map[string]string{"a": "1", "b": "3"}}}
	x := r.Table().Explain(req)
	if len(x.Candidates) != 1 || x.Candidates[0].Reason != `vars clause 2 ["arg_b","==","2"] is false` {
		t.Errorf("got %+v", x.Candidates)
	}
}
