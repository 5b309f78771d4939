//go:build !race

package l7

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
)

// A keep-alive request and its response through the whole pipeline (parse,
// route, pooled upstream, head rewrite, writev, response parse and forward)
// cost no allocation in the steady state, with every balancer (chash
// building its key from a header and an argument).
func TestProxiedRequestAllocs(t *testing.T) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello")
	up := rawUpstream(t, resp)
	for _, u := range []string{"", "type: chash, hash_on: vars_combinations, key: \"$http_user_agent/$arg_id\", ", "type: ewma, ", "type: least_conn, ",
		"pass_host: rewrite, upstream_host: backend.internal, ", "pass_host: node, "} {
		t.Run(u, func(t *testing.T) {
			routes := fmt.Sprintf("routes:\n  - {id: all, uri: \"/*\", upstream: {%snodes: {%q: 1}}}\n", u, up)
			proxiedAllocs(t, startProxy(t, routes, DefaultOptions()))
		})
	}
}

type nopPlugin struct{}

var hdrNop = []byte("X-Nop")

func (nopPlugin) Rewrite(c *plugin.Ctx) plugin.Result { return plugin.Continue }
func (nopPlugin) Access(c *plugin.Ctx) plugin.Result {
	c.Edits.Set(hdrNop, c.Itoa(int64(c.Loop)))
	return plugin.Continue
}
func (nopPlugin) HeaderFilter(c *plugin.Ctx) {}
func (nopPlugin) Log(c *plugin.Ctx)          {}

// A route with plugins in every request phase, header_filter and log (a
// global rule's among them) adds no allocation either.
func TestProxiedRequestWithPluginsAllocs(t *testing.T) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello")
	up := rawUpstream(t, resp)
	var defs []plugin.Def
	for i := range 4 {
		defs = append(defs, plugin.Def{Name: fmt.Sprintf("nop%d", i), Priority: i + 1, New: func(*plugin.Build, []byte) (any, error) { return nopPlugin{}, nil }})
	}
	reg, err := plugin.NewRegistry(nil, defs...)
	if err != nil {
		t.Fatal(err)
	}
	routes := fmt.Sprintf("global_rules: [{id: g, plugins: {nop3: {}}}]\nroutes:\n  - {id: all, uri: \"/*\", upstream: {nodes: {%q: 1}}, plugins: {nop0: {}, nop1: {}, nop2: {_meta: {filter: [[\"arg_id\", \"==\", \"7\"]]}}}}\n", up)
	proxiedAllocs(t, startProxy(t, routes, DefaultOptions(), (&Plugins{Registry: reg}).Compile))
}

func proxiedAllocs(t *testing.T, p *proxy) {
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /api/v1/items?id=7 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: alloc-test\r\nAccept: */*\r\n\r\n")
	in := make([]byte, 4096)
	want := 0
	roundTrip := func() {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, in[:want]); err != nil {
			t.Fatal(err)
		}
	}
	// Learn the forwarded response's size (the proxy edits nothing in it).
	c.Write(req)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := c.Read(in)
	want = n
	if !bytes.HasSuffix(in[:n], []byte("hello")) {
		t.Fatalf("first response %q", in[:n])
	}
	for range 100 {
		roundTrip()
	}
	if a := testing.AllocsPerRun(1000, roundTrip); a != 0 {
		t.Fatalf("%v allocations per proxied request, want 0", a)
	}
}
