package plugin_test

import (
	"fmt"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// headerGate stops requests that lack a header, as a plugin package would
// write it: a Def with a schema, a typed config, and one phase method.
type headerGate struct {
	name string
	deny []byte
}

func (g *headerGate) Access(c *plugin.Ctx) plugin.Result {
	if _, ok := c.Header(g.name); !ok {
		return plugin.Stop(403, g.deny)
	}
	return plugin.Continue
}

var _ plugin.Accessor = (*headerGate)(nil)

var headerGateDef = plugin.Def{
	Name:     "header-gate",
	Priority: 2600,
	Schema:   `{"type":"object","properties":{"header":{"type":"string","minLength":1}},"required":["header"],"additionalProperties":false}`,
	New: func(b *plugin.Build, data []byte) (any, error) {
		var conf struct {
			Header string `json:"header"`
		}
		if err := plugin.Decode(data, &conf); err != nil {
			return nil, err
		}
		return &headerGate{name: conf.Header, deny: plugin.Message("missing " + conf.Header)}, nil
	},
}

func Example() {
	reg, _ := plugin.NewRegistry(nil, headerGateDef)
	b := reg.NewBuild(nil)
	_ = b.SetGlobal(nil)
	chain, err := b.Chain(plugin.Layer{Origin: plugin.OriginRoute, Owner: "routes/1",
		Plugins: map[string]any{"header-gate": map[string]any{"header": "X-Team"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, raw := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX-Team: core\r\n\r\n",
	} {
		r := plugintest.NewRequest(raw, "127.0.0.1:4000").Run(chain)
		if r.Stopped() {
			fmt.Println(r.Status, string(r.Body))
		} else {
			fmt.Println("continue")
		}
	}
	_, err = b.Chain(plugin.Layer{Origin: plugin.OriginRoute, Owner: "routes/2",
		Plugins: map[string]any{"header-gate": map[string]any{}}})
	fmt.Println(err)
	// Output:
	// 403 {"message":"missing X-Team"}
	// continue
	// routes/2: plugins.header-gate: /: missing property 'header'
}
