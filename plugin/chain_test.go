package plugin_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// rec records each hook call into the request's trace header edits, so a
// test sees the order hooks ran in and with which config.
type rec struct {
	name  string
	tag   string
	stop  int
	trace *[]string
}

func (p *rec) note(phase string) {
	*p.trace = append(*p.trace, p.name+"."+phase+"("+p.tag+")")
}

// recRW is rec with a rewrite phase too (plugin "a" in the tests).
type recRW struct{ *rec }

func (p recRW) Rewrite(c *plugin.Ctx) plugin.Result { p.note("rewrite"); return plugin.Continue }
func (p *rec) Access(c *plugin.Ctx) plugin.Result {
	p.note("access")
	if p.stop != 0 {
		return plugin.Stop(p.stop, nil)
	}
	return plugin.Continue
}
func (p *rec) HeaderFilter(c *plugin.Ctx) { p.note("header_filter") }
func (p *rec) Log(c *plugin.Ctx)          { p.note("log") }

type recConf struct {
	Tag  string `json:"tag"`
	Stop int    `json:"stop"`
}

func recDef(name string, prio int, trace *[]string) plugin.Def {
	return plugin.Def{
		Name: name, Priority: prio,
		Schema: `{"type":"object","properties":{"tag":{"type":"string"},"stop":{"type":"integer"}},"additionalProperties":false}`,
		New: func(b *plugin.Build, data []byte) (any, error) {
			var c recConf
			if err := plugin.Decode(data, &c); err != nil {
				return nil, err
			}
			r := &rec{name: name, tag: c.Tag, stop: c.Stop, trace: trace}
			if name == "a" {
				return recRW{r}, nil
			}
			return r, nil
		},
	}
}

// auth identifies the consumer whose credential "key" equals the apikey
// header, in rewrite, like key-auth.
type auth struct{ byKey map[string]*plugin.Consumer }

func (a *auth) Rewrite(c *plugin.Ctx) plugin.Result {
	k, _ := c.Header("apikey")
	if cons := a.byKey[string(k)]; cons != nil {
		c.Consumer = cons
		return plugin.Continue
	}
	return plugin.Stop(401, plugin.Message("Invalid API key in request"))
}

func authDef() plugin.Def {
	return plugin.Def{
		Name: "fake-auth", Priority: 2500,
		ConsumerSchema: `{"type":"object","properties":{"key":{"type":"string"}},"required":["key"]}`,
		New: func(b *plugin.Build, data []byte) (any, error) {
			idx, err := b.Shared("fake-auth", func() (any, error) {
				m := map[string]*plugin.Consumer{}
				for _, c := range b.Consumers("fake-auth") {
					var cred struct{ Key string }
					if err := plugin.Decode(c.Credential("fake-auth"), &cred); err != nil {
						return nil, err
					}
					m[cred.Key] = c
				}
				return m, nil
			})
			if err != nil {
				return nil, err
			}
			return &auth{byKey: idx.(map[string]*plugin.Consumer)}, nil
		},
	}
}

func setup(t *testing.T) (*plugin.Registry, *[]string) {
	trace := &[]string{}
	reg := plugintest.Registry(t, recDef("a", 3000, trace), recDef("b", 2000, trace), recDef("c", 1000, trace), authDef())
	return reg, trace
}

const get = "GET /x?id=7 HTTP/1.1\r\nHost: example.com\r\napikey: k1\r\n\r\n"

func TestChainOrderAndMerge(t *testing.T) {
	tests := []struct {
		name string
		cfg  plugintest.Config
		want string
	}{
		{"priority order, phases", plugintest.Config{Route: `{"c":{"tag":"r"},"a":{"tag":"r"},"b":{"tag":"r"}}`},
			"a.rewrite(r) a.access(r) b.access(r) c.access(r)"},
		{"route over service", plugintest.Config{Service: `{"a":{"tag":"s"},"c":{"tag":"s"}}`, Route: `{"a":{"tag":"r"}}`},
			"a.rewrite(r) a.access(r) c.access(s)"},
		{"global rules first, rewrite and access before the route's rewrite",
			plugintest.Config{Global: []string{`{"c":{"tag":"g"}}`}, Route: `{"a":{"tag":"r"}}`},
			"c.access(g) a.rewrite(r) a.access(r)"},
		{"_meta.disable", plugintest.Config{Route: `{"a":{"tag":"r","_meta":{"disable":true}},"b":{"tag":"r"}}`},
			"b.access(r)"},
		{"_meta.priority reorders", plugintest.Config{Route: `{"a":{"tag":"r","_meta":{"priority":1}},"b":{"tag":"r"}}`},
			"a.rewrite(r) b.access(r) a.access(r)"},
		{"_meta.filter true", plugintest.Config{Route: `{"a":{"tag":"r","_meta":{"filter":[["arg_id","==","7"]]}}}`},
			"a.rewrite(r) a.access(r)"},
		{"_meta.filter false", plugintest.Config{Route: `{"a":{"tag":"r","_meta":{"filter":[["arg_id","==","8"]]}},"c":{}}`},
			"c.access()"},
		{"stop skips the rest", plugintest.Config{Route: `{"a":{"stop":429},"b":{}}`},
			"a.rewrite() a.access() =429"},
		{"consumer over group over route", plugintest.Config{
			Route:     `{"fake-auth":{},"a":{"tag":"r"},"b":{"tag":"r"},"c":{"tag":"r"}}`,
			Groups:    map[string]string{"g": `{"b":{"tag":"grp"},"c":{"tag":"grp"}}`},
			GroupOf:   map[string]string{"jack": "g"},
			Consumers: map[string]string{"jack": `{"fake-auth":{"key":"k1"},"c":{"tag":"con"}}`}},
			"a.rewrite(r) a.access(r) b.access(grp) c.access(con)"},
		{"auth fails", plugintest.Config{Route: `{"fake-auth":{},"a":{}}`,
			Consumers: map[string]string{"jack": `{"fake-auth":{"key":"other"}}`}},
			"a.rewrite() =401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, trace := setup(t)
			ch := plugintest.MustBuild(t, reg, tt.cfg)
			*trace = nil
			r := plugintest.NewRequest(get, "127.0.0.1:5000")
			res := r.Run(ch)
			got := strings.Join(*trace, " ")
			if res.Stopped() {
				got += fmt.Sprintf(" =%d", res.Status)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  plugintest.Config
		want string
	}{
		{"unknown plugin", plugintest.Config{Route: `{"nope":{}}`}, "routes/1: plugins.nope: unknown plugin"},
		{"schema", plugintest.Config{Route: `{"a":{"tag":5}}`}, "routes/1: plugins.a: /tag: got number, want string"},
		{"unknown field", plugintest.Config{Route: `{"a":{"x":1}}`}, "routes/1: plugins.a: /: additional properties 'x' not allowed"},
		{"same priority", plugintest.Config{Route: `{"a":{"_meta":{"priority":2000}},"b":{}}`}, "same priority 2000"},
		{"bad filter", plugintest.Config{Route: `{"a":{"_meta":{"filter":[["arg_id","??","1"]]}}}`}, "routes/1: plugins.a._meta.filter"},
		{"bad _meta", plugintest.Config{Route: `{"a":{"_meta":{"nope":1}}}`}, "plugins.a._meta: json: unknown field"},
		{"credential schema", plugintest.Config{Consumers: map[string]string{"jack": `{"fake-auth":{}}`}}, "consumers/jack: plugins.fake-auth: /: missing property 'key'"},
		{"missing group", plugintest.Config{Consumers: map[string]string{"jack": `{}`}, GroupOf: map[string]string{"jack": "g"}}, `no consumer group "g"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, _ := setup(t)
			_, err := plugintest.Build(t, reg, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRegistryErrors(t *testing.T) {
	var tr []string
	if _, err := plugin.NewRegistry(nil, recDef("a", 1, &tr), recDef("b", 1, &tr)); err == nil || !strings.Contains(err.Error(), "share priority 1") {
		t.Errorf("duplicate priority: %v", err)
	}
	if _, err := plugin.NewRegistry([]string{"zzz"}, recDef("a", 1, &tr)); err == nil || !strings.Contains(err.Error(), `"zzz" is not a plugin`) {
		t.Errorf("unknown enabled: %v", err)
	}
	reg, err := plugin.NewRegistry([]string{"a"}, recDef("a", 1, &tr), recDef("b", 2, &tr))
	if err != nil {
		t.Fatal(err)
	}
	var warned []string
	b := reg.NewBuild(nil)
	b.Warn = func(owner, p string) { warned = append(warned, owner+" "+p) }
	if err := b.SetGlobal(nil); err != nil {
		t.Fatal(err)
	}
	ch, err := b.Chain(plugin.Layer{Origin: plugin.OriginRoute, Owner: "routes/1", Plugins: plugintest.JSON(t, `{"a":{},"b":{}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ch.Plugins(), ","); got != "a" || len(warned) != 1 || warned[0] != "routes/1 b" {
		t.Errorf("plugins %s, warned %v: want a, [routes/1 b]", got, warned)
	}
}

type counter struct{ n *int }

func (c *counter) Access(*plugin.Ctx) plugin.Result { *c.n++; return plugin.Continue }

func TestKeepSurvivesRebuild(t *testing.T) {
	var last *int
	def := plugin.Def{Name: "cnt", Priority: 1,
		Schema: `{"type":"object","properties":{"limit":{"type":"integer"}}}`,
		New: func(b *plugin.Build, data []byte) (any, error) {
			last = b.Keep(func() any { return new(int) }).(*int)
			return &counter{n: last}, nil
		}}
	reg := plugintest.Registry(t, def)
	r := plugintest.NewRequest(get, "127.0.0.1:5000")
	r.Run(plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"cnt":{"limit":1}}`}))
	r.Run(plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"cnt":{"limit":1}}`}))
	if *last != 2 {
		t.Errorf("same config in a new build: count %d, want 2 (state kept)", *last)
	}
	plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"cnt":{"limit":2}}`})
	if *last != 0 {
		t.Errorf("changed config: count %d, want 0 (fresh state)", *last)
	}
}

type stateful struct{}

type st struct{ n int }

func (stateful) Access(c *plugin.Ctx) plugin.Result {
	s := plugin.State[st](c)
	s.n++
	if s.n != 1 {
		return plugin.Stop(500, nil)
	}
	return plugin.Continue
}
func (stateful) Log(c *plugin.Ctx) {
	if s := plugin.State[st](c); s.n != 1 {
		panic("state not carried from access to log")
	}
}

func TestStateResetPerRequest(t *testing.T) {
	reg := plugintest.Registry(t, plugin.Def{Name: "st", Priority: 1, New: func(*plugin.Build, []byte) (any, error) { return stateful{}, nil }})
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"st":{}}`})
	r := plugintest.NewRequest(get, "127.0.0.1:5000")
	for i := range 3 {
		if res := r.Run(ch); res.Stopped() {
			t.Fatalf("request %d: state leaked from the last request", i)
		}
		r.Ctx.Log()
	}
}

type pauser struct{ trace *[]string }

func (p pauser) Access(c *plugin.Ctx) plugin.Result {
	*p.trace = append(*p.trace, "pause.access")
	return plugin.Pause(5 * time.Millisecond)
}

func TestPauseResumesAtTheNextHook(t *testing.T) {
	reg, trace := setup(t)
	reg2 := plugintest.Registry(t, recDef("a", 3000, trace), recDef("c", 1000, trace),
		plugin.Def{Name: "pause", Priority: 2000, New: func(*plugin.Build, []byte) (any, error) { return pauser{trace}, nil }})
	_ = reg
	ch := plugintest.MustBuild(t, reg2, plugintest.Config{Route: `{"a":{},"pause":{},"c":{}}`})
	r := plugintest.NewRequest(get, "127.0.0.1:5000")
	c := r.Reset(ch)
	res := c.Request()
	if res.Delay != 5*time.Millisecond || res.Stopped() {
		t.Fatalf("first run: %+v, want a 5ms pause", res)
	}
	if res = c.Request(); res.Stopped() || res.Delay != 0 {
		t.Fatalf("resumed: %+v, want continue", res)
	}
	if got, want := strings.Join(*trace, " "), "a.rewrite() a.access() pause.access c.access()"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// Kept state lives while a chain holds it, however many builds pass that do
// not touch it (incremental builds, the Admin API's candidate builds), and
// is made afresh once nothing holds it.
func TestKeepHeldByLiveChains(t *testing.T) {
	var last *int
	def := plugin.Def{Name: "cnt", Priority: 1,
		Schema: `{"type":"object","properties":{"limit":{"type":"integer"}}}`,
		New: func(b *plugin.Build, data []byte) (any, error) {
			last = b.Keep(func() any { return new(int) }).(*int)
			return &counter{n: last}, nil
		}}
	reg := plugintest.Registry(t, def)
	live := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"cnt":{"limit":1}}`})
	first := last
	*first = 41
	for range 50 { // builds of other configs
		plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"cnt":{"limit":2}}`})
	}
	runtime.GC()
	plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"cnt":{"limit":1}}`})
	if last != first || *last != 41 {
		t.Fatalf("state of a live chain was dropped after 50 other builds")
	}
	runtime.KeepAlive(live)
	live, first, last = nil, nil, nil
	_ = live
	for range 3 {
		runtime.GC()
	}
	plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"cnt":{"limit":1}}`})
	if *last != 0 {
		t.Errorf("state nothing held was not made afresh: %d", *last)
	}
}
