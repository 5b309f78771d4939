package requestid_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/requestid"
)

func BenchmarkUUID(b *testing.B) {
	reg := plugintest.Registry(b, requestid.Def)
	ch := plugintest.MustBuild(b, reg, plugintest.Config{Route: `{"request-id":{}}`})
	r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "127.0.0.1:1")
	b.ReportAllocs()
	for b.Loop() {
		c := r.Reset(ch)
		c.Request()
		c.HeaderFilter()
	}
}
