package iprestriction_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/iprestriction"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

func BenchmarkAccess(b *testing.B) {
	reg := plugintest.Registry(b, iprestriction.Def)
	ch := plugintest.MustBuild(b, reg, plugintest.Config{Route: `{"ip-restriction":{"whitelist":["10.0.0.0/8","192.168.0.0/16","127.0.0.1"]}}`})
	r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "127.0.0.1:1")
	b.ReportAllocs()
	for b.Loop() {
		r.Run(ch)
	}
}
