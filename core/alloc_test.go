//go:build !race

package core

import (
	"bytes"
	"testing"
)

// A forwarded chunk costs no allocation in the steady state, on every path.
func TestRelayChunkAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode SpliceMode
		size int
	}{{"copy-1KiB", SpliceOff, 1 << 10}, {"splice-1KiB", SpliceOn, 1 << 10}, {"auto-1KiB", SpliceAuto, 1 << 10}, {"splice-16KiB", SpliceOn, 16 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRelayRig(t, tc.mode)
			msg := bytes.Repeat([]byte("x"), tc.size)
			in := make([]byte, tc.size)
			g.roundTrip(t, msg, in) // warm the pools
			if n := testing.AllocsPerRun(200, func() { g.roundTrip(t, msg, in) }); n != 0 {
				t.Fatalf("%v allocations per forwarded round trip, want 0", n)
			}
			if !bytes.Equal(in, msg) {
				t.Fatal("bytes changed in transit")
			}
		})
	}
}
