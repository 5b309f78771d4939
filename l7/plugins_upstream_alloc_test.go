//go:build !race

package l7

import (
	"fmt"
	"testing"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
)

// chooser sends every request to its own upstream, as traffic-split does.
type chooser struct{ us *core.UpstreamSet }

func (p chooser) Access(c *plugin.Ctx) plugin.Result {
	c.Upstream = p.us
	return plugin.Continue
}

// A request a plugin sends to an upstream of its own, with that upstream's
// pass_host and timeouts (retarget), costs no allocation either.
func TestRetargetedRequestAllocs(t *testing.T) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello")
	up := rawUpstream(t, resp)
	for _, u := range []string{"pass_host: rewrite, upstream_host: split.internal, ", "pass_host: node, timeout: {read: 5}, "} {
		t.Run(u, func(t *testing.T) {
			v, err := core.DecodeItem(core.KindUpstreams, "split", []byte(fmt.Sprintf("{%snodes: {%q: 1}}", u, up)))
			if err != nil {
				t.Fatal(err)
			}
			us, err := core.CompileUpstream(nil, v.(*core.Upstream), "split", 1)
			if err != nil {
				t.Fatal(err)
			}
			reg, err := plugin.NewRegistry(nil, plugin.Def{Name: "chooser", Priority: 1, New: func(*plugin.Build, []byte) (any, error) { return chooser{us}, nil }})
			if err != nil {
				t.Fatal(err)
			}
			routes := "routes:\n  - {id: all, uri: \"/*\", upstream: {nodes: {\"127.0.0.1:1\": 1}}, plugins: {chooser: {}}}\n"
			proxiedAllocs(t, startProxy(t, routes, DefaultOptions(), (&Plugins{Registry: reg}).Compile))
		})
	}
}
