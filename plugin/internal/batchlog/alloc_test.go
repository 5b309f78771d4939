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

// bodyHooks are a logger's hooks with bodies included.
type bodyHooks struct{ l *Logger }

func (h bodyHooks) Access(c *plugin.Ctx) plugin.Result   { h.l.Access(c); return plugin.Continue }
func (h bodyHooks) RequestBody(c *plugin.Ctx, b []byte)  { h.l.RequestBody(c, b) }
func (h bodyHooks) HeaderFilter(c *plugin.Ctx)           { h.l.HeaderFilter(c) }
func (h bodyHooks) ResponseBody(c *plugin.Ctx, b []byte) { h.l.ResponseBody(c, b) }
func (h bodyHooks) Log(c *plugin.Ctx)                    { h.l.Log(c) }

// Capturing the bodies (capped) allocates nothing either once the pool's
// records have grown: the bytes go straight into the request's record.
func TestBodyCaptureAllocs(t *testing.T) {
	var stats Stats
	f, _ := CompileFormat(nil)
	capture, err := CompileCapture(Bodies{IncludeReq: true, IncludeResp: true, MaxReq: 6, MaxResp: 1 << 10}, f)
	if err != nil {
		t.Fatal(err)
	}
	l := &Logger{opts: Options{Capture: capture}, format: f, stats: &stats}
	l.Queue = newQueue(4, &stats, func() {})
	reg := plugintest.Registry(t, plugin.Def{Name: "l", Priority: 1, New: func(*plugin.Build, []byte) (any, error) { return bodyHooks{l}, nil }})
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"l":{}}`})
	r := plugintest.NewRequest("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n", "192.0.2.7:5000")
	var resp codec.Response
	if _, err := resp.Parse([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	b1, b2, b3 := []byte("abcd"), []byte("efghi"), []byte("hello")
	run := func() {
		c := r.Reset(ch)
		c.Request()
		c.RequestBody(b1)
		c.RequestBody(b2)
		c.Resp, c.Status = &resp, 200
		c.HeaderFilter()
		c.ResponseBody(b3)
		c.Log()
		rec := <-l.q
		if string(rec.ReqBody) != "abcdef" || !rec.HasReqBody || string(rec.RespBody) != "hello" || !rec.HasRespBody {
			t.Fatalf("bodies %q %v %q %v", rec.ReqBody, rec.HasReqBody, rec.RespBody, rec.HasRespBody)
		}
		l.put(rec)
	}
	run()
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Errorf("%.2f allocs per request, want 0", n)
	}
	if b := bodyBytes.Load(); b != 0 {
		t.Errorf("%d body bytes still charged to the budget", b)
	}
}
