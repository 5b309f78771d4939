package httplogger_test

import (
	"fmt"
	"testing"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/plugin/httplogger"
	"github.com/sluice-gateway/sluice/plugin/internal/cputime"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// The hooks' cost per request (access, header_filter, log), the logger's
// goroutine delivering to a real receiver meanwhile; cpu-ns/op is the
// request path's own thread. The work moved off the loop — parsing the
// heads again, JSON, the POST — shows in the "worker" numbers below.
func benchHooks(b *testing.B, conf string) {
	rc := newReceiver(b)
	ch := build(b, fmt.Sprintf(`{"http-logger":{"uri":%q,%s}}`, rc.URL, conf), "")
	r := plugintest.NewRequest(get, "192.0.2.7:5000")
	var resp codec.Response
	if _, err := resp.Parse([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n")); err != nil {
		b.Fatal(err)
	}
	queued, dropped := httplogger.Stats.Queued.Load(), httplogger.Stats.Dropped.Load()
	b.ReportAllocs()
	defer cputime.PerOp(b)()
	for b.Loop() {
		c := r.Reset(ch)
		c.Request()
		c.Resp, c.Status = &resp, 200
		c.HeaderFilter()
		c.Log()
	}
	b.ReportMetric(float64(httplogger.Stats.Dropped.Load()-dropped)/float64(b.N), "dropped/op")
	_ = queued
}

func BenchmarkHooksFullLog(b *testing.B) { benchHooks(b, `"batch_max_size":1000`) }
func BenchmarkHooksLogFormat(b *testing.B) {
	benchHooks(b, `"batch_max_size":1000,"log_format":{"host":"$host","client_ip":"$remote_addr","status":"$status"}`)
}
