// Package e2e starts a real sluice data plane in-process for end-to-end
// tests: the YAML provider's resources, the given plugins, real listeners
// on loopback. Tests talk to it with real clients (net/http) and point it
// at real upstream servers.
package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/l4"
	"github.com/sluice-gateway/sluice/l7"
	"github.com/sluice-gateway/sluice/plugin"
)

// Options describe the node to start.
type Options struct {
	// Routes is the standalone provider's file (routes, upstreams,
	// consumers, global_rules, ...).
	Routes string
	// Config is extra config.yaml text (top-level keys), added to the
	// provider, worker and listener settings the harness writes.
	Config string
	// Plugins are registered (and all enabled unless Config lists
	// `plugins`).
	Plugins []plugin.Def
	// Workers defaults to 1.
	Workers int
	// Stream adds a stream (L4) listener on loopback.
	Stream bool
}

// Node is a running data plane.
type Node struct {
	// URL is the HTTP listener ("http://127.0.0.1:port"), Addr its address.
	URL, Addr string
	// StreamAddr is the stream listener's address (with Options.Stream).
	StreamAddr string
	Registry   *plugin.Registry
	Store      *core.Store
	Config     *core.Config
	dir        string
	hooks      *l7.Plugins
}

// Start runs a node for the test's lifetime.
func Start(t testing.TB, o Options) *Node {
	t.Helper()
	dir := t.TempDir()
	workers := o.Workers
	if workers == 0 {
		workers = 1
	}
	conf := fmt.Sprintf("config: {provider: yaml}\nworkers: %d\nlisten:\n  http: [\"127.0.0.1:0\"]\n", workers)
	if o.Stream {
		conf += "  stream: {tcp: [\"127.0.0.1:0\"]}\n"
	}
	conf += o.Config
	must(t, os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(conf), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(o.Routes), 0o644))
	cfg, err := core.LoadConfig(filepath.Join(dir, "config.yaml"))
	must(t, err)
	reg, err := plugin.NewRegistry(cfg.Plugins, o.Plugins...)
	must(t, err)
	n := &Node{Registry: reg, Config: cfg, dir: dir, Store: &core.Store{}}
	n.hooks = &l7.Plugins{Registry: reg, Config: cfg, Loops: workers}
	n.Store.Compile = []func(*core.Snapshot) error{n.hooks.Compile, l4.CompilePlugins(reg)}
	must(t, n.Reload(o.Routes))
	g, err := core.NewGroup(workers, cfg.Stream.BufferSize)
	must(t, err)
	web, err := l7.NewServer(g, n.Store, cfg.Listen.HTTP, l7.OptionsFrom(cfg))
	must(t, err)
	if o.Stream {
		st, err := l4.NewServer(g, n.Store, cfg.Listen.Stream.TCP)
		must(t, err)
		n.StreamAddr = st.Addrs[0].String()
	}
	g.Start()
	t.Cleanup(g.Stop)
	n.Addr = web.Addrs[0].String()
	n.URL = "http://" + n.Addr
	return n
}

// Reload replaces the resources with routes (a whole routes.yaml), as the
// YAML provider does when the file changes; the old config keeps serving
// when the new one is refused.
func (n *Node) Reload(routes string) error {
	p := filepath.Join(n.dir, "routes.yaml")
	if err := os.WriteFile(p, []byte(routes), 0o644); err != nil {
		return err
	}
	snap, err := core.LoadResources(n.Config, p, n.Config.WorkerCount())
	if err != nil {
		return err
	}
	return n.Store.Publish(snap)
}

// Client is an HTTP client for tests: keep-alive, a timeout, no proxy.
func Client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}
}

// Upstream runs a real net/http server on loopback for the test's lifetime
// and returns its address.
func Upstream(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
