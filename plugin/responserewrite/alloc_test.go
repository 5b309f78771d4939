//go:build !race

package responserewrite_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/responserewrite"
)

var upBody = []byte("upstream")

// Rewriting a head and a body allocates nothing; nor does a route with
// filters for an answer its vars leave alone. filters that apply allocate
// (the held body, Go's regexp): inherent, and documented in the package.
func TestAllocs(t *testing.T) {
	reg := plugintest.Registry(t, responserewrite.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"response-rewrite":{"status_code":201,"body":"b","headers":{"set":{"X-A":"$remote_addr"}},"vars":[["status","==",200]]}}`})
	r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "127.0.0.1:1")
	c := r.Reset(ch)
	run := func() {
		c = r.Reset(ch)
		c.Request()
		c.Status = 200
		c.HeaderFilter()
		if string(c.BodyFilter(upBody, true)) != "b" {
			t.Fatal("body not replaced")
		}
	}
	run()
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("%.1f allocs per request, want 0", n)
	}
}

func TestFiltersPassAllocs(t *testing.T) {
	reg := plugintest.Registry(t, responserewrite.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"response-rewrite":{"filters":[{"regex":"a","replace":"b"}],"vars":[["status","==",500]]}}`})
	r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "127.0.0.1:1")
	run := func() {
		c := r.Reset(ch)
		c.Request()
		c.Status = 200
		c.HeaderFilter()
		if string(c.BodyFilter(upBody, true)) != "upstream" {
			t.Fatal("body changed")
		}
	}
	run()
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("%.1f allocs per request, want 0", n)
	}
}
