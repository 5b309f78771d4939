package trafficsplit_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/internal/cputime"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

func bench(b *testing.B, conf, query string) {
	ch := mustBuild(b, `{"traffic-split":`+conf+`}`)
	r := plugintest.NewRequest("GET /?"+query+" HTTP/1.1\r\nHost: a\r\nUser-Agent: x\r\n\r\n", "127.0.0.1:5000")
	b.ReportAllocs()
	defer cputime.PerOp(b)()
	for b.Loop() {
		r.Run(ch)
	}
}

// Only weights: no match, a 3:2 split.
func BenchmarkWeights(b *testing.B) { bench(b, docExamples[0], "") }

// Two rules of three and one conditions, the first holding.
func BenchmarkRulesMatch(b *testing.B) {
	bench(b, docExamples[4], "x-api-name=jack&x-api-age=30&x-api-appkey=abc")
}

// The same, no rule holding: every condition evaluated, the route's upstream.
func BenchmarkRulesNoMatch(b *testing.B) { bench(b, docExamples[4], "x-api-name=bob") }

// The same chain with the plugin disabled: what the harness costs.
func BenchmarkBaseline(b *testing.B) {
	ch := plugintest.MustBuild(b, plugintest.Registry(b), plugintest.Config{Route: `{}`})
	r := plugintest.NewRequest("GET /?x-api-name=bob HTTP/1.1\r\nHost: a\r\n\r\n", "127.0.0.1:5000")
	b.ReportAllocs()
	defer cputime.PerOp(b)()
	for b.Loop() {
		r.Run(ch)
	}
}
