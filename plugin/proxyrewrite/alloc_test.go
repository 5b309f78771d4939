//go:build !race

package proxyrewrite_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/proxyrewrite"
)

// Rewrites allocate nothing, but a regex_uri that matches: Go's regexp
// returns its submatch indexes in a new slice (1 allocation).
func TestAllocs(t *testing.T) {
	reg := plugintest.Registry(t, proxyrewrite.Def)
	for conf, want := range map[string]float64{
		`{"uri":"/new/$arg_x","method":"POST","host":"h.internal"}`:                                 0,
		`{"headers":{"add":{"X-A":"1"},"set":{"X-B":"$remote_addr"},"remove":["X-Old"]}}`:           0,
		`{"regex_uri":["^/nomatch/(.*)","/$1"]}`:                                                    0,
		`{"regex_uri":["^/iresty/(.*)","/$1"]}`:                                                     1,
		`{"regex_uri":["^/iresty/(.*)","/$1"],"headers":{"set":{"X-C":"$1","X-D":["a","$arg_x"]}}}`: 1,
	} {
		ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"proxy-rewrite":` + conf + `}`})
		r := plugintest.NewRequest(req, "127.0.0.1:1")
		run := func() { r.Run(ch) }
		run()
		if n := testing.AllocsPerRun(200, run); n != want {
			t.Errorf("%s: %.1f allocs per request, want %v", conf, n, want)
		}
	}
}
