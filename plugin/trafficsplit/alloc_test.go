//go:build !race

package trafficsplit_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// Matching the rules and stepping the round-robin allocate nothing.
func TestAccessAllocs(t *testing.T) {
	ch := mustBuild(t, `{"traffic-split":`+docExamples[4]+`}`)
	r := plugintest.NewRequest("GET /?x-api-name=jack&x-api-age=30&x-api-appkey=abc HTTP/1.1\r\nHost: a\r\n\r\n", "127.0.0.1:5000")
	i := 0
	run := func() {
		c := r.Reset(ch)
		c.Loop = i % 2
		i++
		if res := c.Request(); res.Stopped() {
			t.Fatal("stopped")
		}
	}
	run()
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Errorf("%.2f allocs per request, want 0", n)
	}
}
