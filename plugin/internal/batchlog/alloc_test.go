//go:build !race

package batchlog

import (
	"testing"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// hooks is a logger plugin's hooks over a queue with no worker: the test
// plays the worker, taking each record and returning it to the pool.
type hooks struct{ q *Queue }

func (h hooks) Access(c *plugin.Ctx) plugin.Result { SaveHead(c); return plugin.Continue }
func (h hooks) HeaderFilter(c *plugin.Ctx)         { SaveResponse(c) }
func (h hooks) Log(c *plugin.Ctx)                  { h.q.Push(c) }

// Capturing and queueing a request allocates nothing once the pool holds
// a record big enough: the heads are copied into it, and the request's
// head (with a body) into request scratch first.
func TestPushAllocs(t *testing.T) {
	var stats Stats
	q := newQueue(4, &stats, func() {})
	reg := plugintest.Registry(t, plugin.Def{Name: "l", Priority: 1, New: func(*plugin.Build, []byte) (any, error) { return hooks{q}, nil }})
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"l":{}}`})
	r := plugintest.NewRequest("POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n", "192.0.2.7:5000")
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
		rec := <-q.q
		if string(rec.Head) != r.Raw || len(rec.RespHead) == 0 || rec.Status != 200 {
			t.Fatalf("record %q %q %d", rec.Head, rec.RespHead, rec.Status)
		}
		q.put(rec)
	}
	run() // AllocsPerRun runs it once more before measuring: 1002 in all
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Errorf("%.2f allocs per request, want 0", n)
	}
	if stats.Queued.Load() != 1002 || stats.Dropped.Load() != 0 {
		t.Errorf("queued %d dropped %d", stats.Queued.Load(), stats.Dropped.Load())
	}
}
