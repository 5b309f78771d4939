package l7_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
)

// Test plugins, each exercising one part of the server's side of the API.

// gate stops requests without header X-Pass with 401, a body and a
// WWW-Authenticate header; it sets X-Gate on the upstream request.
type gate struct{}

var (
	hdrWWW    = []byte("WWW-Authenticate")
	valBasic  = []byte(`Basic realm="test"`)
	hdrGate   = []byte("X-Gate")
	valYes    = []byte("yes")
	gateStop  = plugin.Message("Missing X-Pass")
	hdrSeen   = []byte("X-Seen-Status")
	hdrUpName = []byte("X-Upstream")
)

func (gate) Access(c *plugin.Ctx) plugin.Result {
	if _, ok := c.Header("X-Pass"); !ok {
		c.RespEdits.Set(hdrWWW, valBasic)
		return plugin.Stop(401, gateStop)
	}
	c.Edits.Set(hdrGate, valYes)
	return plugin.Continue
}

// stamp adds X-Seen-Status to every answer and turns 404s from the
// upstream into 410s.
type stamp struct{}

func (stamp) HeaderFilter(c *plugin.Ctx) {
	c.RespEdits.Set(hdrSeen, c.Itoa(int64(c.Status)))
	if c.Status == 404 && c.Resp != nil {
		c.RespEdits.SetStatus(410, []byte("Gone"))
	}
}

// upper upper-cases the response body as it streams.
type upper struct{}

func (upper) BodyFilter(c *plugin.Ctx, chunk []byte, last bool) []byte {
	out := c.Alloc(len(chunk))
	for i, b := range chunk {
		if 'a' <= b && b <= 'z' {
			b -= 'a' - 'A'
		}
		out[i] = b
	}
	if last {
		return append(out, "!"...) // a new block: Alloc's is full
	}
	return out
}

// logs records every log call.
type logs struct {
	mu  sync.Mutex
	got []string
}

func (l *logs) Log(c *plugin.Ctx) {
	l.mu.Lock()
	l.got = append(l.got, fmt.Sprintf("%s %d", c.RouteID, c.Status))
	l.mu.Unlock()
}

// take returns the log calls so far, waiting (bounded) for n of them: the
// log phase runs after the answer went out, so it may trail the client.
func (l *logs) take(n ...int) []string {
	for i := 0; i < 200 && len(n) > 0; i++ {
		l.mu.Lock()
		k := len(l.got)
		l.mu.Unlock()
		if k >= n[0] {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.got
	l.got = nil
	return g
}

// nap pauses every request for the configured milliseconds.
type nap struct{ ms int }

func (n nap) Access(c *plugin.Ctx) plugin.Result {
	if plugin.State[bool](c) != nil && !*plugin.State[bool](c) {
		*plugin.State[bool](c) = true
		return plugin.Pause(time.Duration(n.ms) * time.Millisecond)
	}
	return plugin.Continue
}

// divert sends requests to the upstream named in its config.
type divert struct{ up *core.UpstreamSet }

func (d divert) BeforeProxy(c *plugin.Ctx) plugin.Result {
	c.Upstream = d.up
	c.RespEdits.Set(hdrUpName, valYes)
	return plugin.Continue
}

func defs(l *logs) []plugin.Def {
	simple := func(name string, prio int, inst any) plugin.Def {
		return plugin.Def{Name: name, Priority: prio, New: func(*plugin.Build, []byte) (any, error) { return inst, nil }}
	}
	return []plugin.Def{
		simple("gate", 2500, gate{}),
		simple("stamp", 1000, stamp{}),
		simple("upper", 900, upper{}),
		simple("logs", 100, l),
		{Name: "nap", Priority: 2000, Schema: `{"type":"object","properties":{"ms":{"type":"integer"}}}`,
			New: func(b *plugin.Build, data []byte) (any, error) {
				var n nap
				var conf struct{ Ms int }
				err := plugin.Decode(data, &conf)
				n.ms = conf.Ms
				return n, err
			}},
		{Name: "divert", Priority: 500, Schema: `{"type":"object","properties":{"to":{"type":"string"}},"required":["to"]}`,
			New: func(b *plugin.Build, data []byte) (any, error) {
				var conf struct{ To string }
				if err := plugin.Decode(data, &conf); err != nil {
					return nil, err
				}
				up := b.Upstream(conf.To)
				if up == nil {
					return nil, fmt.Errorf("no upstream %q", conf.To)
				}
				return divert{up}, nil
			}},
	}
}

func echo(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		if r.URL.Path == "/chunked" {
			w.Write([]byte("abc"))
			w.(http.Flusher).Flush()
			w.Write([]byte("def"))
			return
		}
		fmt.Fprintf(w, "%s gate=%s", name, r.Header.Get("X-Gate"))
	}
}

func get(t *testing.T, cl *http.Client, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestPluginPhasesE2E(t *testing.T) {
	l := &logs{}
	a := e2e.Upstream(t, echo("a"))
	b := e2e.Upstream(t, echo("b"))
	n := e2e.Start(t, e2e.Options{Plugins: defs(l), Routes: fmt.Sprintf(`
upstreams:
  - {id: a, nodes: {%q: 1}}
  - {id: b, nodes: {%q: 1}}
services:
  - {id: s, plugins: {stamp: {}}, upstream_id: a}
plugin_configs:
  - {id: pc, plugins: {logs: {}}}
routes:
  - {id: gated, uri: /gated, service_id: s, plugin_config_id: pc, plugins: {gate: {}}}
  - {id: missing, uri: /missing, service_id: s, plugins: {logs: {}}}
  - {id: upper, uri: /upper, upstream_id: a, plugins: {upper: {}, logs: {}}}
  - {id: chunked, uri: /chunked, upstream_id: a, plugins: {upper: {}}}
  - {id: divert, uri: /divert, upstream_id: a, plugins: {divert: {to: b}}}
  - {id: vars, uri: /vars, upstream_id: b, vars: [["http_x_v", "==", "1"]]}
  - {id: plain, uri: /plain, upstream_id: a}
  - {id: noup, uri: /noup, plugins: {gate: {}}}
`, a, b)})
	cl := e2e.Client()

	t.Run("stop with status, body and header; keep-alive goes on", func(t *testing.T) {
		resp, body := get(t, cl, n.URL+"/gated")
		if resp.StatusCode != 401 || body != `{"message":"Missing X-Pass"}` || resp.Header.Get("WWW-Authenticate") != `Basic realm="test"` {
			t.Errorf("%d %q %v", resp.StatusCode, body, resp.Header)
		}
		if resp.Header.Get("X-Seen-Status") != "401" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("header_filter on a stop: %v", resp.Header)
		}
		resp, body = get(t, cl, n.URL+"/gated", "X-Pass", "1")
		if resp.StatusCode != 200 || body != "a gate=yes" || resp.Header.Get("X-Seen-Status") != "200" {
			t.Errorf("passed: %d %q %v", resp.StatusCode, body, resp.Header)
		}
		if got := strings.Join(l.take(2), ","); got != "gated 401,gated 200" {
			t.Errorf("log calls %q", got)
		}
	})
	t.Run("header_filter changes the upstream's status", func(t *testing.T) {
		resp, _ := get(t, cl, n.URL+"/missing")
		if resp.StatusCode != 410 || resp.Header.Get("X-Seen-Status") != "404" {
			t.Errorf("%d %v", resp.StatusCode, resp.Header)
		}
		if got := strings.Join(l.take(1), ","); got != "missing 404" {
			t.Errorf("log calls %q", got)
		}
	})
	t.Run("body_filter, content-length and chunked upstream bodies", func(t *testing.T) {
		for range 3 { // the connection is reused after each
			resp, body := get(t, cl, n.URL+"/upper")
			if resp.StatusCode != 200 || body != "A GATE=!" || resp.ContentLength != -1 {
				t.Errorf("%d %q len %d", resp.StatusCode, body, resp.ContentLength)
			}
			resp, body = get(t, cl, n.URL+"/chunked")
			if resp.StatusCode != 200 || body != "ABCDEF!" {
				t.Errorf("chunked: %d %q", resp.StatusCode, body)
			}
		}
		l.take(3)
	})
	t.Run("before_proxy picks another upstream", func(t *testing.T) {
		resp, body := get(t, cl, n.URL+"/divert")
		if body != "b gate=" || resp.Header.Get("X-Upstream") != "yes" {
			t.Errorf("%q %v", body, resp.Header)
		}
	})
	t.Run("a route with plugins and no upstream", func(t *testing.T) {
		if resp, _ := get(t, cl, n.URL+"/noup"); resp.StatusCode != 401 {
			t.Errorf("stopped by its plugin: %d", resp.StatusCode)
		}
		resp, body := get(t, cl, n.URL+"/noup", "X-Pass", "1")
		if resp.StatusCode != 503 || !strings.Contains(body, "missing upstream configuration") {
			t.Errorf("let through: %d %q", resp.StatusCode, body)
		}
	})
	t.Run("route vars read request headers", func(t *testing.T) {
		if resp, _ := get(t, cl, n.URL+"/vars"); resp.StatusCode != 404 {
			t.Errorf("without the header: %d", resp.StatusCode)
		}
		if resp, body := get(t, cl, n.URL+"/vars", "X-V", "1"); resp.StatusCode != 200 || body != "b gate=" {
			t.Errorf("with it: %d %q", resp.StatusCode, body)
		}
	})
	t.Run("a bad plugin config is refused and the old config keeps serving", func(t *testing.T) {
		err := n.Reload(fmt.Sprintf("upstreams: [{id: a, nodes: {%q: 1}}]\nroutes: [{id: x, uri: /plain, upstream_id: a, plugins: {divert: {to: 5}}}]\n", a))
		if err == nil || !strings.Contains(err.Error(), "routes/x: plugins.divert: /to:") {
			t.Fatalf("reload error %v", err)
		}
		if resp, _ := get(t, cl, n.URL+"/gated", "X-Pass", "1"); resp.StatusCode != 200 {
			t.Errorf("old config: %d", resp.StatusCode)
		}
		l.take(1)
	})
}

// A paused request does not hold up its loop: a request that comes after
// it on another connection is answered first.
func TestPluginPauseE2E(t *testing.T) {
	l := &logs{}
	a := e2e.Upstream(t, echo("a"))
	n := e2e.Start(t, e2e.Options{Plugins: defs(l), Routes: fmt.Sprintf(`
routes:
  - {id: slow, uri: /slow, upstream: {nodes: {%q: 1}}, plugins: {nap: {ms: 400}}}
  - {id: fast, uri: /fast, upstream: {nodes: {%q: 1}}}
`, a, a)})
	cl := e2e.Client()
	var order []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	var started atomic.Bool
	for _, p := range []string{"/slow", "/fast"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p == "/fast" {
				for !started.Load() {
					time.Sleep(time.Millisecond)
				}
				time.Sleep(50 * time.Millisecond) // the slow request is paused by now
			} else {
				started.Store(true)
			}
			resp, body := get(t, cl, n.URL+p)
			if resp.StatusCode != 200 || body != "a gate=" {
				t.Errorf("%s: %d %q", p, resp.StatusCode, body)
			}
			mu.Lock()
			order = append(order, p)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if strings.Join(order, " ") != "/fast /slow" {
		t.Errorf("answer order %v: the paused request held up the loop", order)
	}
}
