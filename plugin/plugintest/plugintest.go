// Package plugintest runs plugins without a server, for table tests: a
// request parsed from text, a chain compiled from JSON configs, and what
// the upstream and the client would receive.
package plugintest

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/route"
)

// Registry registers defs (all enabled) or fails the test.
func Registry(t testing.TB, defs ...plugin.Def) *plugin.Registry {
	t.Helper()
	r, err := plugin.NewRegistry(nil, defs...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// JSON decodes a config written as JSON, or fails the test.
func JSON(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("config %s: %v", s, err)
	}
	return m
}

// Config is a build's input: the route's plugins (a JSON object of plugin
// name to config), and optionally consumers, global rules and metadata.
type Config struct {
	Route     string                       // {"key-auth": {}, ...}
	Service   string                       // the route's service's plugins
	Global    []string                     // global rules' plugins
	Consumers map[string]string            // username -> plugins
	Groups    map[string]string            // consumer group id -> plugins
	GroupOf   map[string]string            // username -> group id
	Labels    map[string]map[string]string // username -> labels
	Metadata  map[string]string            // plugin name -> metadata
}

// Build compiles cfg into a route chain, or returns the build's error.
func Build(t testing.TB, reg *plugin.Registry, cfg Config) (*plugin.Chain, error) {
	t.Helper()
	meta := map[string]map[string]any{}
	for k, v := range cfg.Metadata {
		meta[k] = JSON(t, v)
	}
	b := reg.NewBuild(meta)
	for id, p := range cfg.Groups {
		if err := b.AddGroup(id, JSON(t, p)); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(cfg.Consumers))
	for n := range cfg.Consumers {
		names = append(names, n)
	}
	sortStrings(names)
	for _, n := range names {
		if err := b.AddConsumer(n, cfg.GroupOf[n], cfg.Labels[n], JSON(t, cfg.Consumers[n])); err != nil {
			return nil, err
		}
	}
	var rules []plugin.Layer
	for i, g := range cfg.Global {
		rules = append(rules, plugin.Layer{Owner: "global_rules/" + string(rune('1'+i)), Plugins: JSON(t, g)})
	}
	if err := b.SetGlobal(rules); err != nil {
		return nil, err
	}
	var layers []plugin.Layer
	if cfg.Service != "" {
		layers = append(layers, plugin.Layer{Origin: plugin.OriginService, Owner: "services/1", Plugins: JSON(t, cfg.Service)})
	}
	route := cfg.Route
	if route == "" {
		route = "{}"
	}
	layers = append(layers, plugin.Layer{Origin: plugin.OriginRoute, Owner: "routes/1", Plugins: JSON(t, route)})
	return b.Chain(layers...)
}

// MustBuild is Build that fails the test on error.
func MustBuild(t testing.TB, reg *plugin.Registry, cfg Config) *plugin.Chain {
	t.Helper()
	ch, err := Build(t, reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// Request is one request through a chain, with everything a server would
// give the hooks. Reuse it with Reset to measure allocations.
type Request struct {
	Ctx   plugin.Ctx
	Raw   string
	req   codec.Request
	rreq  route.Request
	match route.Match
	vars  plugin.RequestVars
	edits codec.Edits
	hw    codec.HeadWriter
	buf   []byte
}

// NewRequest parses raw, a request head ("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
// as if it came from remote ("127.0.0.1:5000"). It panics on a bad head.
func NewRequest(raw, remote string) *Request {
	r := &Request{Raw: raw, buf: []byte(raw)}
	if _, err := r.req.Parse(r.buf); err != nil {
		panic("plugintest: " + err.Error())
	}
	ap := netip.MustParseAddrPort(remote)
	r.vars = plugin.RequestVars{Req: &r.req, Local: netip.MustParseAddrPort("127.0.0.1:9080"), Remote: ap}
	r.vars.Ctx = &r.Ctx
	return r
}

// Reset prepares the request to run on ch again, as a server does for each
// request: no allocation once warm.
func (r *Request) Reset(ch *plugin.Chain) *plugin.Ctx {
	c := &r.Ctx
	c.Reset(ch)
	r.edits.Reset()
	host := r.req.Host()
	if i := bytes.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	r.rreq.Method, r.rreq.Path, r.rreq.Host = r.req.Method(), r.req.Path(), host
	r.rreq.RemoteAddr = r.vars.Remote.Addr()
	r.rreq.Vars = &r.vars
	c.Req, c.Route, c.Match, c.Edits = &r.req, &r.rreq, &r.match, &r.edits
	c.Remote, c.Local = r.vars.Remote, r.vars.Local
	c.RouteID = "1"
	return c
}

// Run resets the request for ch and runs the request phases.
func (r *Request) Run(ch *plugin.Chain) plugin.Result {
	return r.Reset(ch).Request()
}

// Upstream is the request head the upstream would receive after the edits.
func (r *Request) Upstream() string {
	var b strings.Builder
	for _, p := range r.hw.Request(&r.req, &r.edits) {
		b.Write(p)
	}
	return b.String()
}

// RespHeaders renders the response fields the plugins set or added.
func (r *Request) RespHeaders() string {
	return string(r.Ctx.RespEdits.AppendFields(nil))
}

// Respond runs header_filter and log as if the upstream answered with the
// head raw ("HTTP/1.1 200 OK\r\n...\r\n\r\n"), returning the head the
// client would receive.
func (r *Request) Respond(raw string) string {
	var resp codec.Response
	resp.RequestMethod = r.req.MethodID()
	if _, err := resp.Parse([]byte(raw)); err != nil {
		panic("plugintest: response: " + err.Error())
	}
	c := &r.Ctx
	c.Resp, c.Status = &resp, resp.Status()
	c.HeaderFilter()
	var b strings.Builder
	var hw codec.HeadWriter
	for _, p := range hw.Response(&resp, &c.RespEdits) {
		b.Write(p)
	}
	return b.String()
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
