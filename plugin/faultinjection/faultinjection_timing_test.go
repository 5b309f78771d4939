package faultinjection_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/internal/cputime"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// BenchmarkRequest is one request through fault-injection (the "tail"
// test plugin is in every chain, "baseline" included).
func BenchmarkRequest(b *testing.B) {
	for _, bb := range []struct{ name, conf string }{
		{"baseline", `{"abort":{"http_status":403}}`},
		{"pass/vars", `{"abort":{"http_status":403,"vars":[[["arg_name","==","jack"]]]}}`},
		{"pass/percentage", `{"abort":{"http_status":403,"percentage":1}}`},
		{"abort", `{"abort":{"http_status":403,"body":"from $remote_addr","headers":{"X-Client":"$remote_addr"}}}`},
	} {
		b.Run(bb.name, func(b *testing.B) {
			ch := build(b, bb.conf)
			if bb.name == "baseline" {
				ch = plugintest.MustBuild(b, plugintest.Registry(b, tailDef), plugintest.Config{Route: `{"tail":{}}`})
			}
			r := plugintest.NewRequest("GET /hello?name=allen HTTP/1.1\r\nHost: a\r\n\r\n", "10.0.0.1:5000")
			b.ReportAllocs()
			defer cputime.PerOp(b)()
			for b.Loop() {
				r.Reset(ch).Request()
			}
		})
	}
}
