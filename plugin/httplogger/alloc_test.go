//go:build !race

package httplogger_test

import (
	"fmt"
	"testing"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/plugin/httplogger"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// The hooks allocate nothing, the queue full or not. AllocsPerRun counts
// every goroutine's allocations, so the logger's goroutine is kept from
// running here by a receiver that never answers: after the first batch
// every entry finds the queue full. The queue's reuse path is measured in
// batchlog's own alloc test.
func TestHooksAllocs(t *testing.T) {
	rc := newReceiver(t)
	rc.block = make(chan struct{})
	ch := build(t, fmt.Sprintf(`{"http-logger":{"uri":%q,"batch_max_size":8,"timeout":60}}`, rc.URL), `{"max_pending_entries":64}`)
	post := "POST /hello?a=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\n"
	r := plugintest.NewRequest(post, "192.0.2.7:5000")
	var resp codec.Response
	if _, err := resp.Parse([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	run := func() {
		c := r.Reset(ch)
		c.Request()
		c.Resp, c.Status = &resp, 200
		c.HeaderFilter()
		c.Log()
	}
	for range 200 {
		run()
	}
	rc.wait(t, 8, array) // the worker is stuck in the first POST
	for range 100 {
		run() // and the records it had formatted are taken again
	}
	dropped := httplogger.Stats.Dropped.Load()
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Errorf("%.2f allocs per request, want 0", n)
	}
	if d := httplogger.Stats.Dropped.Load() - dropped; d < 1000 {
		t.Errorf("dropped %d, want every entry (the queue is full)", d)
	}
}
