package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/core"
)

const testAdminKey = "e2e-admin-key-0123456789"

// freePortPair finds a port p with p+1 free too (the embedded etcd's peer),
// below the ephemeral range so that outgoing connections do not take p+1.
func freePortPair(t *testing.T) int {
	t.Helper()
	for range 200 {
		p := 20000 + rand.IntN(10000)
		a, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		a.Close()
		if err == nil {
			b.Close()
			return p
		}
	}
	t.Fatal("no two adjacent free ports")
	return 0
}

type adminClient struct {
	t    *testing.T
	base string
}

func (a adminClient) do(method, path, body string) (int, string) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("X-API-KEY", testAdminKey)
	c := &http.Client{Timeout: 15 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// must retries while etcd is catching up (503), for up to 30 s.
func (a adminClient) must(method, path, body string) {
	a.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, out := a.do(method, path, body)
		if st == 200 || st == 201 {
			return
		}
		a.t.Logf("%s %s: %d %s; again", method, path, st, strings.TrimSpace(out))
		if st != 503 && st != 0 || time.Now().After(deadline) {
			a.t.Fatalf("%s %s: %d %s", method, path, st, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func askPort(port int) (string, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	return string(got), err
}

// waitAnswer polls the stream port until it answers want (changes apply
// asynchronously), for up to 15 s.
func waitAnswer(t *testing.T, port int, want string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got, _ = askPort(port); got == want {
			return
		}
	}
	t.Fatalf("port %d never answered %q (last %q)", port, want, got)
}

func etcdConf(t *testing.T, dir string, port, adminPort int, etcd string) string {
	return etcdConfHTTP(t, dir, port, adminPort, etcd, "")
}

func etcdConfHTTP(t *testing.T, dir string, port, adminPort int, etcd, http string) string {
	t.Helper()
	body := fmt.Sprintf(`listen: {http: [%s], stream: {tcp: ["127.0.0.1:%d"]}}
admin:
  listen: "127.0.0.1:%d"
  keys: [{name: e2e, key: %q, role: admin}]
workers: 1
config: {provider: etcd}
shutdown_timeout: 2
%s
`, http, port, adminPort, testAdminKey, etcd)
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func stop(t *testing.T, p *proc) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sluice exited with %v:\n%s", err, p.log)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("sluice did not stop:\n%s", p.log)
	}
}

// The default setup: embedded etcd, a stream route made through the Admin
// API serves traffic, a change applies, and the data survives a restart.
func TestEmbeddedEtcdAdminAPI(t *testing.T) {
	a := echoServer(t, func(c net.Conn) { c.Write([]byte("A")) })
	b := echoServer(t, func(c net.Conn) { c.Write([]byte("B")) })
	port, adminPort := freePort(t), freePort(t)
	dir := t.TempDir()
	httpPort := freePort(t)
	cfg := etcdConfHTTP(t, dir, port, adminPort, fmt.Sprintf("etcd: {embedded: true, data_dir: data/etcd, endpoints: [\"http://127.0.0.1:%d\"]}", freePortPair(t)),
		fmt.Sprintf("%q", fmt.Sprintf("127.0.0.1:%d", httpPort)))
	p := start(t, cfg, port)
	api := adminClient{t, fmt.Sprintf("http://127.0.0.1:%d", adminPort)}
	if st, body := api.do("GET", "/readyz", ""); st != 200 || !strings.Contains(body, `"etcd"`) {
		t.Fatalf("readyz: %d %s", st, body)
	}
	api.must("PUT", "/apisix/admin/upstreams/up", fmt.Sprintf(`{"type":"roundrobin","nodes":{%q:1}}`, a))
	api.must("PUT", "/apisix/admin/stream_routes/s", fmt.Sprintf(`{"server_port":%d,"upstream_id":"up"}`, port))
	waitAnswer(t, port, "A")
	api.must("PATCH", "/apisix/admin/upstreams/up/nodes", fmt.Sprintf(`{%q:1}`, b))
	waitAnswer(t, port, "B")

	// An HTTP route made the same way serves HTTP.
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello "+r.URL.Path) }))
	defer web.Close()
	api.must("PUT", "/apisix/admin/routes/hello", fmt.Sprintf(`{"uri":"/hello","upstream":{"nodes":{%q:1}}}`, strings.TrimPrefix(web.URL, "http://")))
	var got string
	for deadline := time.Now().Add(15 * time.Second); got != "hello /hello" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/hello", httpPort)); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got = string(b)
		}
	}
	if got != "hello /hello" {
		t.Fatalf("HTTP route made through the Admin API answered %q", got)
	}
	stop(t, p)

	start(t, cfg, port)
	if got, err := askPort(port); got != "B" {
		t.Fatalf("after a restart the stream route answered %q, %v", got, err)
	}
}

// cluster is three etcd members on loopback, run by the test. Clients and
// peers reach each member through freezers (one for its client port, one
// for its peer port), so the test can stop a member answering without
// closing anything, as SIGSTOP would.
type cluster struct {
	t       *testing.T
	cfgs    []core.EtcdMemberConfig
	members []*core.EtcdMember
	proxies [][2]*freezer // client, peer
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{t: t}
	var peers []string
	for i := range 3 {
		client, peer := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
		px := [2]*freezer{newFreezer(t, client), newFreezer(t, peer)}
		mc := core.EtcdMemberConfig{
			Name:            fmt.Sprintf("m%d", i),
			Dir:             filepath.Join(t.TempDir(), "etcd"),
			Client:          "http://" + client,
			Peer:            "http://" + peer,
			AdvertiseClient: "http://" + px[0].Addr(),
			AdvertisePeer:   "http://" + px[1].Addr(),
		}
		peers = append(peers, mc.Name+"="+mc.AdvertisePeer)
		c.cfgs = append(c.cfgs, mc)
		c.proxies = append(c.proxies, px)
	}
	for i := range c.cfgs {
		c.cfgs[i].Cluster = strings.Join(peers, ",")
	}
	c.members = make([]*core.EtcdMember, 3)
	c.start(0, 1, 2)
	t.Cleanup(func() { c.stop(0, 1, 2) })
	return c
}

// start runs members in parallel: each waits for a quorum to be ready.
func (c *cluster) start(ids ...int) {
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.members[id], errs[i] = core.StartEtcdMember(c.cfgs[id])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			c.t.Fatal(err)
		}
	}
}

func (c *cluster) stop(ids ...int) {
	for _, id := range ids {
		if c.members[id] != nil {
			c.members[id].Close()
			c.members[id] = nil
		}
	}
}

// put writes key on a member other than frozen, directly.
func (c *cluster) put(frozen int, key, val string) {
	c.t.Helper()
	cfg, err := core.LoadConfig(writeTemp(c.t, "config.yaml", "config: {provider: etcd}\n"))
	if err != nil {
		c.t.Fatal(err)
	}
	cli, err := core.NewEtcdClient(cfg, []string{c.cfgs[(frozen+1)%3].AdvertiseClient})
	if err != nil {
		c.t.Fatal(err)
	}
	defer cli.Close()
	// Freezing the leader costs an election first.
	for deadline := time.Now().Add(20 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := cli.Put(ctx, key, val)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatal(err)
		}
		c.t.Logf("put %s: %v; again", key, err)
	}
}

func writeTemp(t *testing.T, name, body string) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// freeze stops member id answering clients and peers (on), or lets it go
// on again.
func (c *cluster) freeze(id int, on bool) {
	c.proxies[id][0].freeze(on)
	c.proxies[id][1].freeze(on)
}

func (c *cluster) endpoints() string {
	var eps []string
	for _, mc := range c.cfgs {
		eps = append(eps, fmt.Sprintf("%q", mc.AdvertiseClient))
	}
	return strings.Join(eps, ", ")
}

// A three-member cluster: one member down, changes still propagate; all
// down, the data plane keeps serving with no failed connection and admin
// writes fail with 503; members back, the watch resumes and catches up; and
// a node started while the cluster is down serves its saved config.
func TestEtcdClusterFailures(t *testing.T) {
	a := echoServer(t, func(c net.Conn) { c.Write([]byte("A")) })
	b := echoServer(t, func(c net.Conn) { c.Write([]byte("B")) })
	cl := newCluster(t)
	port, adminPort := freePort(t), freePort(t)
	dir := t.TempDir()
	cfg := etcdConf(t, dir, port, adminPort, fmt.Sprintf("etcd: {embedded: false, data_dir: data, endpoints: [%s]}", cl.endpoints()))
	p := start(t, cfg, port)
	api := adminClient{t, fmt.Sprintf("http://127.0.0.1:%d", adminPort)}
	api.must("PUT", "/apisix/admin/upstreams/up", fmt.Sprintf(`{"nodes":{%q:1}}`, a))
	api.must("PUT", "/apisix/admin/stream_routes/s", fmt.Sprintf(`{"server_port":%d,"upstream_id":"up"}`, port))
	waitAnswer(t, port, "A")

	// Each member in turn is frozen (sockets open, nothing answered — a
	// stopped process). The node's watch, wherever it was, notices within
	// a few seconds (a progress request left unanswered), well before gRPC
	// keepalive would drop the connection (core.EtcdKeepAliveTime +
	// EtcdKeepAliveTimeout = 13 s), and resumes on another member: a change
	// made on a live member (after an election if the frozen member led) is
	// served within 10 s of the freeze; the data plane serves
	// throughout. Through the Admin API, a write sent to the frozen member
	// fails with 503 at the API's timeout and is sent again.
	nodes := map[string]string{"A": a, "B": b}
	want := "A"
	for id := range 3 {
		cl.freeze(id, true)
		frozen := time.Now()
		if got, err := askPort(port); got != want {
			t.Fatalf("member %d frozen: the data plane answered %q, %v", id, got, err)
		}
		want = map[string]string{"A": "B", "B": "A"}[want]
		if id == 1 {
			api.must("PATCH", "/apisix/admin/upstreams/up/nodes", fmt.Sprintf(`{%q:1}`, nodes[want]))
		} else {
			cl.put(id, "/sluice/upstreams/up", fmt.Sprintf(`{"id":"up","nodes":{%q:1}}`, nodes[want]))
		}
		written := time.Now()
		for deadline := frozen.Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if got, _ := askPort(port); got == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("member %d frozen: a change written %v after the freeze was not served within 10 s of it\n%s", id, written.Sub(frozen), p.log)
			}
		}
		t.Logf("member %d frozen: the change written %v and served %v after the freeze", id, written.Sub(frozen).Round(time.Millisecond), time.Since(frozen).Round(time.Millisecond))
		cl.freeze(id, false)
	}

	cl.stop(0)
	api.must("PATCH", "/apisix/admin/upstreams/up/nodes", fmt.Sprintf(`{%q:1}`, b))
	waitAnswer(t, port, "B")

	cl.stop(1, 2)
	failed := 0
	for range 200 {
		if got, err := askPort(port); got != "B" || err != nil {
			failed++
		}
	}
	if failed > 0 {
		t.Fatalf("%d of 200 connections failed while etcd was down", failed)
	}
	if st, body := api.do("PUT", "/apisix/admin/upstreams/other", fmt.Sprintf(`{"nodes":{%q:1}}`, a)); st != 503 {
		t.Fatalf("write with every member down: %d %s", st, body)
	}

	cl.start(0, 1, 2)
	api.must("PATCH", "/apisix/admin/upstreams/up/nodes", fmt.Sprintf(`{%q:1}`, a))
	waitAnswer(t, port, "A")

	// The node keeps the last config on disk (written within a second of a
	// change); started while the cluster is down, it serves from it.
	cache := filepath.Join(dir, "data", "last-config.json")
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(cache)
		if strings.Contains(string(data), a) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never held the last change: %s", cache, data)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop(t, p)
	cl.stop(0, 1, 2)
	p = start(t, cfg, port)
	waitLog(t, p, "serving the last config saved in")
	if got, err := askPort(port); got != "A" {
		t.Fatalf("started from the cache, the route answered %q, %v", got, err)
	}
	if st, body := api.do("GET", "/readyz", ""); st != 200 || !strings.Contains(body, `"cache"`) {
		t.Fatalf("readyz from cache: %d %s", st, body)
	}
}
