//go:build !race

package redirect_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/redirect"
)

// A redirect to a template costs no allocation; a regex_uri that matches
// costs one, Go's regexp's submatch index slice (FindSubmatchIndex has no
// variant that takes caller storage); one that does not match, none.
func TestAllocs(t *testing.T) {
	reg := plugintest.Registry(t, redirect.Def)
	for conf, want := range map[string]float64{
		`{"uri":"$uri/index.html","append_query_string":true}`: 0,
		`{"http_to_https":true}`:                               0,
		`{"regex_uri":["^/nomatch/(.*)","/$1"]}`:               0,
		`{"regex_uri":["^/a/(.*)","/new/$1"]}`:                 1,
	} {
		ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"redirect":` + conf + `}`})
		r := plugintest.NewRequest("GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", "127.0.0.1:1")
		run := func() { r.Run(ch) }
		run()
		if n := testing.AllocsPerRun(200, run); n != want {
			t.Errorf("%s: %.1f allocs per request, want %v", conf, n, want)
		}
	}
}
