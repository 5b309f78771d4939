//go:build !race

package plugin_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

var hdrN = []byte("X-N")

type nop struct{}

func (nop) Rewrite(c *plugin.Ctx) plugin.Result { return plugin.Continue }
func (nop) Access(c *plugin.Ctx) plugin.Result {
	plugin.State[st](c).n++
	c.RespEdits.Set(hdrN, c.Itoa(42))
	return plugin.Continue
}
func (nop) HeaderFilter(c *plugin.Ctx) {}
func (nop) Log(c *plugin.Ctx)          {}

// Dispatch allocates nothing: hooks of every phase, a consumer-merged
// chain, per-request state, _meta.filter and sampled cost accounting.
func TestDispatchAllocs(t *testing.T) {
	var defs []plugin.Def
	for i, n := range []string{"n1", "n2", "n3", "n4"} {
		defs = append(defs, plugin.Def{Name: n, Priority: 100 + i, New: func(*plugin.Build, []byte) (any, error) { return nop{}, nil }})
	}
	defs = append(defs, authDef())
	reg := plugintest.Registry(t, defs...)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{
		Global:    []string{`{"n4":{}}`},
		Route:     `{"fake-auth":{},"n1":{},"n2":{"_meta":{"filter":[["arg_id","==","7"]]}}}`,
		Consumers: map[string]string{"jack": `{"fake-auth":{"key":"k1"},"n3":{}}`},
	})
	r := plugintest.NewRequest(get, "127.0.0.1:5000")
	i := 0
	run := func() {
		c := r.Reset(ch)
		c.Sampled = i%2 == 0
		i++
		if res := c.Request(); res.Stopped() {
			t.Fatalf("stopped %d", res.Status)
		}
		c.HeaderFilter()
		c.Log()
	}
	run()
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("%.1f allocs per request, want 0", n)
	}
}
