package l7

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/route"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func loopbackPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// etcdNode is an embedded etcd member, a client, and the etcd provider
// publishing into a store whose compile hook is Compile, as a node runs
// them.
type etcdNode struct {
	cli   *clientv3.Client
	prov  *core.EtcdProvider
	store *core.Store
}

func startEtcdNode(t testing.TB, hook func(*core.Snapshot) error) *etcdNode {
	t.Helper()
	var m *core.EtcdMember
	var err error
	for range 3 {
		m, err = core.StartEtcdMember(core.EtcdMemberConfig{Dir: filepath.Join(t.TempDir(), "etcd"),
			Client: fmt.Sprintf("http://127.0.0.1:%d", loopbackPort(t)), Peer: fmt.Sprintf("http://127.0.0.1:%d", loopbackPort(t))})
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte("listen: {http: []}\nconfig: {provider: etcd}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := core.LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := core.NewEtcdClient(cfg, []string{m.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	n := &etcdNode{cli: cli, store: &core.Store{Compile: []func(*core.Snapshot) error{hook}}}
	n.prov = core.NewEtcdProvider(cfg, cli, n.store, 1, "")
	if err := n.prov.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.prov.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return n
}

// txn applies puts (key → value) and deletes (value "") under /sluice/ in
// one transaction and waits until the snapshot reflects it.
func (n *etcdNode) txn(t testing.TB, ops map[string]string) {
	t.Helper()
	var eops []clientv3.Op
	for k, v := range ops {
		if v == "" {
			eops = append(eops, clientv3.OpDelete("/sluice/"+k))
		} else {
			eops = append(eops, clientv3.OpPut("/sluice/"+k, v))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := n.cli.Txn(ctx).Then(eops...).Commit()
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); n.prov.Revision() < resp.Header.Revision; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("revision %d never published (at %d)", resp.Header.Revision, n.prov.Revision())
		}
	}
}

// The router that compileDelta keeps updating answers every request as a
// router built from scratch for the same snapshot does: the same route and
// the same upstream, through random creates, replaces, deletes, disables,
// upstream changes and deletes (which take their routes out with them),
// routes recreated under the same id, and routes the router refuses.
func TestCompileDeltaMatchesFullBuild(t *testing.T) {
	t.Run("no plugins", func(t *testing.T) { testCompileDelta(t, nil) })
	// With a registry, routes get plugin chains compiled by the base's
	// build; upstream changes then build the router whole.
	var defs []plugin.Def
	for i := range 3 {
		defs = append(defs, plugin.Def{Name: fmt.Sprintf("nop%d", i), Priority: i + 1, New: func(*plugin.Build, []byte) (any, error) { return logOnly{}, nil }})
	}
	reg, err := plugin.NewRegistry(nil, defs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("plugins", func(t *testing.T) { testCompileDelta(t, &Plugins{Registry: reg}) })
}

type logOnly struct{}

func (logOnly) Log(*plugin.Ctx) {}

func testCompileDelta(t *testing.T, pl *Plugins) {
	n := startEtcdNode(t, pl.Compile)
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	uris := []string{"/a", "/a/*", "/a/b", "/:x", "/:x/b", "/*", "/c/:y", "/c/d", "/e"}
	hosts := []string{"", "one.test", "*.test"}
	ups := []string{"u0", "u1", "u2"}
	probes := []struct{ method, path, host string }{}
	for _, p := range []string{"/a", "/a/", "/a/b", "/a/b/c", "/z", "/z/b", "/c/d", "/c/e", "/e", "/"} {
		for _, h := range []string{"one.test", "two.test", "other"} {
			for _, m := range []string{"GET", "POST"} {
				probes = append(probes, struct{ method, path, host string }{m, p, h})
			}
		}
	}
	routejs := func(i int) string {
		var f []string
		f = append(f, fmt.Sprintf(`"uri":%q`, uris[rng.IntN(len(uris))]))
		if h := hosts[rng.IntN(len(hosts))]; h != "" {
			f = append(f, fmt.Sprintf(`"host":%q`, h))
		}
		if rng.IntN(3) == 0 {
			f = append(f, `"methods":["GET"]`)
		}
		if rng.IntN(3) == 0 {
			f = append(f, fmt.Sprintf(`"priority":%d`, rng.IntN(3)))
		}
		if rng.IntN(8) == 0 {
			f = append(f, `"status":0`)
		}
		if pl != nil && rng.IntN(3) == 0 {
			f = append(f, fmt.Sprintf(`"plugins":{"nop%d":{}}`, rng.IntN(3)))
		}
		if rng.IntN(5) == 0 {
			f = append(f, fmt.Sprintf(`"upstream":{"nodes":{"127.0.0.1:%d":1}}`, 7100+i))
		} else {
			f = append(f, fmt.Sprintf(`"upstream_id":%q`, ups[rng.IntN(len(ups))]))
		}
		return "{" + strings.Join(f, ",") + "}"
	}
	init := map[string]string{}
	for i, u := range ups {
		init["upstreams/"+u] = fmt.Sprintf(`{"nodes":{"127.0.0.1:%d":1}}`, 7000+i)
	}
	n.txn(t, init)
	incremental := 0
	for step := range 150 {
		ops := map[string]string{}
		for range 1 + rng.IntN(4) {
			i := rng.IntN(40)
			k := fmt.Sprintf("routes/r%02d", i)
			switch x := rng.IntN(20); {
			case x < 3:
				ops[k] = ""
			case x == 3:
				u := ups[rng.IntN(len(ups))]
				ops["upstreams/"+u] = fmt.Sprintf(`{"nodes":{"127.0.0.1:%d":1}}`, 7000+rng.IntN(50))
			case x == 4:
				ops["upstreams/"+ups[rng.IntN(len(ups))]] = "" // its routes drop out
			case x == 5:
				ops[k] = `{"uri":"bad-no-slash","upstream_id":"u0"}` // refused by the router
			case x == 6:
				ops[fmt.Sprintf("stream_routes/s%d", i)] = `{"upstream_id":"u1"}`
			default:
				ops[k] = routejs(i)
			}
		}
		if rng.IntN(10) == 0 { // recreate: delete, then create anew
			k := fmt.Sprintf("routes/r%02d", rng.IntN(40))
			n.txn(t, map[string]string{k: ""})
			ops[k] = routejs(0)
		}
		before := n.store.Load()
		n.txn(t, ops)
		snap := n.store.Load()
		if snap == before {
			continue
		}
		got, ok := snap.HTTP.(*table)
		if !ok {
			t.Fatalf("step %d: no HTTP table", step)
		}
		if prev, _ := before.HTTP.(*table); prev != nil && prev.router == got.router {
			incremental++
		}
		full := *snap
		full.HTTP, full.Delta = nil, nil
		if err := pl.Compile(&full); err != nil {
			t.Fatalf("step %d: full build of the published snapshot: %v", step, err)
		}
		want := full.HTTP.(*table)
		if got.t.Len() != want.t.Len() {
			t.Fatalf("step %d: %d routes, a full build has %d", step, got.t.Len(), want.t.Len())
		}
		for _, p := range probes {
			var m1, m2 route.Match
			r1 := got.t.Lookup(&route.Request{Method: []byte(p.method), Path: []byte(p.path), Host: []byte(p.host), RemoteAddr: netip.MustParseAddr("127.0.0.1")}, &m1)
			r2 := want.t.Lookup(&route.Request{Method: []byte(p.method), Path: []byte(p.path), Host: []byte(p.host), RemoteAddr: netip.MustParseAddr("127.0.0.1")}, &m2)
			if describe(r1) != describe(r2) {
				t.Fatalf("step %d: %s %s host %s: updated router gives %s, a full build %s", step, p.method, p.path, p.host, describe(r1), describe(r2))
			}
		}
	}
	if incremental < 40 {
		t.Fatalf("only %d of 150 changes updated the router in place", incremental)
	}
	t.Logf("%d changes updated the router in place", incremental)
}

func describe(r *route.Route) string {
	if r == nil {
		return "no route"
	}
	tg := r.Value.(*target)
	var plugins []string
	if tg.chain != nil {
		plugins = tg.chain.Plugins()
	}
	return fmt.Sprintf("%s→%v %v", tg.id, tg.up.Nodes().Addrs, plugins)
}
