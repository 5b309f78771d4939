package core

import (
	"fmt"
	"testing"
)

// BenchmarkRelayRoundTrip forwards one chunk each way per op through a relay
// driven by hand over loopback TCP; run with -benchmem for the allocation column.
func BenchmarkRelayRoundTrip(b *testing.B) {
	for _, mode := range []struct {
		name string
		m    SpliceMode
	}{{"copy", SpliceOff}, {"splice", SpliceOn}} {
		for _, size := range []int{64, 1 << 10, 16 << 10} {
			b.Run(fmt.Sprintf("%s/%dB", mode.name, size), func(b *testing.B) {
				g := newRelayRig(b, mode.m)
				msg := make([]byte, size)
				in := make([]byte, size)
				b.SetBytes(int64(2 * size))
				b.ReportAllocs()
				for b.Loop() {
					g.roundTrip(b, msg, in)
				}
			})
		}
	}
}
