package core

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startTestEtcd runs a single embedded member in a temp dir.
func startTestEtcd(t *testing.T) (*EtcdMember, *clientv3.Client) {
	t.Helper()
	var m *EtcdMember
	var err error
	for range 3 { // a freshly picked port can be taken in between
		c, p := freeLoopbackPort(t), freeLoopbackPort(t)
		m, err = StartEtcdMember(EtcdMemberConfig{Dir: filepath.Join(t.TempDir(), "etcd"),
			Client: fmt.Sprintf("http://127.0.0.1:%d", c), Peer: fmt.Sprintf("http://127.0.0.1:%d", p)})
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	cfg := defaultConfig()
	cli, err := NewEtcdClient(cfg, []string{m.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return m, cli
}

func etcdTestConfig() *Config {
	c := defaultConfig()
	c.Path = "/nonexistent/config.yaml"
	c.Listen.Stream.TCP = []string{"127.0.0.1:9100"}
	return c
}

func put(t *testing.T, cli *clientv3.Client, key, val string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, key, val); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to 10 s; config changes apply asynchronously.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func streamTarget(s *Store, port uint16) string {
	snap := s.Load()
	if snap == nil {
		return ""
	}
	t := snap.MatchStream(netip4(port), netip4(40000))
	if t == nil {
		return ""
	}
	return t.ID + "->" + t.Upstream.Nodes().Addrs[0].String()
}

func netip4(port uint16) netip.AddrPort {
	return mustAP(fmt.Sprintf("127.0.0.1:%d", port))
}

// bothClients runs test with a gRPC client of an embedded member, as for
// an external cluster, and with the member's in-process client, which
// sluice uses for its embedded member.
func bothClients(t *testing.T, test func(t *testing.T, cli *clientv3.Client)) {
	t.Run("grpc", func(t *testing.T) {
		_, cli := startTestEtcd(t)
		test(t, cli)
	})
	t.Run("in-process", func(t *testing.T) {
		m, _ := startTestEtcd(t)
		cli := m.Client()
		t.Cleanup(func() { cli.Close() })
		test(t, cli)
	})
}

func TestEtcdProviderLoadWatchAndBadKeys(t *testing.T) { bothClients(t, testLoadWatchAndBadKeys) }

func testLoadWatchAndBadKeys(t *testing.T, cli *clientv3.Client) {
	cfg := etcdTestConfig()
	put(t, cli, "/sluice/upstreams/u1", `{"id":"u1","nodes":{"127.0.0.1:7001":1}}`)
	put(t, cli, "/sluice/stream_routes/s1", `{"server_port":9100,"upstream_id":"u1","create_time":1,"update_time":2}`)
	var store Store
	p := NewEtcdProvider(cfg, cli, &store, 1, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := p.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if got := streamTarget(&store, 9100); got != "s1->127.0.0.1:7001" || !p.Ready() {
		t.Fatalf("after load: %q ready=%v", got, p.Ready())
	}
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()

	put(t, cli, "/sluice/upstreams/u1", `{"id":"u1","nodes":{"127.0.0.1:7002":1}}`)
	waitFor(t, "upstream change", func() bool { return streamTarget(&store, 9100) == "s1->127.0.0.1:7002" })

	// A value written behind the Admin API's back is left out; the rest applies.
	put(t, cli, "/sluice/stream_routes/bad", `{"server_port":9100,"upstream_id":"missing"}`)
	put(t, cli, "/sluice/upstreams/junk", `not json {`)
	put(t, cli, "/sluice/services/svc", `{"id":"svc"}`)
	put(t, cli, "/sluice/upstreams/u2", `{"nodes":{"127.0.0.1:7003":1}}`)
	put(t, cli, "/sluice/stream_routes/s0", `{"upstream_id":"u2"}`)
	waitFor(t, "change after bad keys", func() bool {
		s := store.Load()
		return s.Upstreams["u2"] != nil && s.MatchStream(netip4(9999), netip4(1)) != nil
	})
	if s := store.Load(); s.Upstreams["junk"] != nil || len(s.stream[9100]) != 1 {
		t.Fatalf("bad keys were not left out: %+v", s.stream)
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if _, err := cli.Delete(ctx2, "/sluice/stream_routes/s1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delete", func() bool { return strings.HasPrefix(streamTarget(&store, 9100), "s0->") })
	cancel()
	<-done
}

// A watch that resumes below the compacted revision re-reads everything and
// replaces the snapshot whole.
func TestEtcdProviderCompaction(t *testing.T) { bothClients(t, testCompaction) }

func testCompaction(t *testing.T, cli *clientv3.Client) {
	cfg := etcdTestConfig()
	put(t, cli, "/sluice/stream_routes/a", `{"upstream":{"nodes":{"127.0.0.1:7001":1}}}`)
	var store Store
	p := NewEtcdProvider(cfg, cli, &store, 1, "")
	if err := p.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	loaded := p.Revision()
	// While nobody watches: replace a, then compact the history away.
	ctx := context.Background()
	if _, err := cli.Delete(ctx, "/sluice/stream_routes/a"); err != nil {
		t.Fatal(err)
	}
	put(t, cli, "/sluice/stream_routes/b", `{"upstream":{"nodes":{"127.0.0.1:7002":1}}}`)
	resp, err := cli.Get(ctx, "nothing")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	before := store.Load()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { p.Run(rctx); close(done) }()
	waitFor(t, "full re-read", func() bool { return p.Revision() > loaded })
	cancel()
	<-done
	after := store.Load()
	if after == before || streamTarget(&store, 9100) != "b->127.0.0.1:7002" {
		t.Fatalf("after compaction: %q (same snapshot: %v)", streamTarget(&store, 9100), after == before)
	}
}

// With an external cluster the last config is kept on disk; a node that
// starts while etcd is down serves from it.
func TestEtcdProviderCache(t *testing.T) {
	_, cli := startTestEtcd(t)
	cfg := etcdTestConfig()
	cache := filepath.Join(t.TempDir(), "last.json")
	var store Store
	p := NewEtcdProvider(cfg, cli, &store, 1, cache)
	if err := p.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	put(t, cli, "/sluice/stream_routes/c", `{"upstream":{"nodes":{"127.0.0.1:7005":1}}}`)
	waitFor(t, "cache written", func() bool {
		b, _ := os.ReadFile(cache)
		return strings.Contains(string(b), "7005")
	})
	cancel()
	<-done
	if fi, err := os.Stat(cache); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache file: %v %v", fi, err)
	}

	dead, err := NewEtcdClient(cfg, []string{fmt.Sprintf("http://127.0.0.1:%d", freeLoopbackPort(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	var store2 Store
	p2 := NewEtcdProvider(cfg, dead, &store2, 1, cache)
	lctx, lcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer lcancel()
	if err := p2.Load(lctx); err == nil {
		t.Fatal("load from a dead endpoint succeeded")
	}
	if _, _, err := p2.LoadCache(); err != nil {
		t.Fatal(err)
	}
	if got := streamTarget(&store2, 9100); got != "c->127.0.0.1:7005" || !p2.Ready() || !p2.FromCache() {
		t.Fatalf("from cache: %q ready=%v fromCache=%v", got, p2.Ready(), p2.FromCache())
	}
}

// A resource that a compile hook (the L7 router) refuses is left out; the
// rest of the change applies.
func TestEtcdProviderHookRejects(t *testing.T) {
	_, cli := startTestEtcd(t)
	cfg := etcdTestConfig()
	store := Store{Compile: []func(*Snapshot) error{func(s *Snapshot) error {
		for _, r := range s.Routes {
			if r.URI == "/refused" {
				return fmt.Errorf("route %s: refused by the hook", r.ID)
			}
		}
		return nil
	}}}
	put(t, cli, "/sluice/upstreams/u", `{"nodes":{"127.0.0.1:7001":1}}`)
	put(t, cli, "/sluice/routes/bad", `{"uri":"/refused","upstream_id":"u"}`)
	put(t, cli, "/sluice/routes/good", `{"uri":"/ok","upstream_id":"u"}`)
	put(t, cli, "/sluice/stream_routes/s", `{"upstream_id":"u"}`)
	p := NewEtcdProvider(cfg, cli, &store, 1, "")
	if err := p.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := store.Load()
	if len(s.Routes) != 1 || s.Routes[0].ID != "good" || streamTarget(&store, 9100) != "s->127.0.0.1:7001" {
		t.Fatalf("routes %+v, stream %q", s.Routes, streamTarget(&store, 9100))
	}

	// By watch: a refused route stays out through later changes, and comes
	// in once it is fixed.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	ids := func() string {
		var ids []string
		for _, r := range store.Load().Routes {
			ids = append(ids, r.ID)
		}
		return strings.Join(ids, ",")
	}
	put(t, cli, "/sluice/routes/bad2", `{"uri":"/refused","upstream_id":"u"}`)
	put(t, cli, "/sluice/routes/good2", `{"uri":"/ok2","upstream_id":"u"}`)
	waitFor(t, "good2 in, bad2 out", func() bool { return ids() == "good,good2" })
	put(t, cli, "/sluice/upstreams/u", `{"nodes":{"127.0.0.1:7002":1}}`) // what they use changes
	put(t, cli, "/sluice/routes/good3", `{"uri":"/ok3","upstream_id":"u"}`)
	waitFor(t, "good3 in", func() bool { return ids() == "good,good2,good3" })
	put(t, cli, "/sluice/routes/bad", `{"uri":"/fixed","upstream_id":"u"}`)
	waitFor(t, "bad in once fixed", func() bool { return ids() == "bad,good,good2,good3" })
}

// etcd.unsafe_no_fsync reaches the embedded member: its WAL is written
// without fsync (etcd's own counter says so), and by default it is not.
func TestEtcdUnsafeNoFsync(t *testing.T) {
	for _, unsafe := range []bool{false, true} {
		var m *EtcdMember
		var err error
		for range 3 {
			m, err = StartEtcdMember(EtcdMemberConfig{Dir: filepath.Join(t.TempDir(), "etcd"), UnsafeNoFsync: unsafe,
				Client: fmt.Sprintf("http://127.0.0.1:%d", freeLoopbackPort(t)), Peer: fmt.Sprintf("http://127.0.0.1:%d", freeLoopbackPort(t))})
			if err == nil {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		cli, err := NewEtcdClient(defaultConfig(), []string{m.Endpoint})
		if err != nil {
			t.Fatal(err)
		}
		// The counter is the process's, shared by every member it ran.
		fsyncs := func() int {
			resp, err := http.Get(m.Endpoint + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			n := 0
			for _, line := range strings.Split(string(body), "\n") {
				if v, ok := strings.CutPrefix(line, "etcd_disk_wal_fsync_duration_seconds_count "); ok {
					fmt.Sscanf(v, "%d", &n)
				}
			}
			return n
		}
		before := fsyncs()
		for i := range 5 {
			put(t, cli, fmt.Sprintf("/k%d", i), "v")
		}
		n := fsyncs() - before
		if unsafe != (n == 0) {
			t.Errorf("unsafe_no_fsync %v: %d WAL fsyncs for 5 writes", unsafe, n)
		}
		cli.Close()
		m.Close()
	}
}
