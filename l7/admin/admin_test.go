package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/core"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func testConfig(t testing.TB) *core.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := writeFile(p, "listen: {http: [], stream: {tcp: [\"127.0.0.1:9100\"]}}\nconfig: {provider: etcd}\n"); err != nil {
		t.Fatal(err)
	}
	cfg, err := core.LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startEtcd(t testing.TB, cfg *core.Config) *clientv3.Client {
	t.Helper()
	var m *core.EtcdMember
	var err error
	for range 3 {
		m, err = core.StartEtcdMember(core.EtcdMemberConfig{Dir: filepath.Join(t.TempDir(), "etcd"),
			Client: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), Peer: fmt.Sprintf("http://127.0.0.1:%d", freePort(t))})
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	cli, err := core.NewEtcdClient(cfg, []string{m.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

var testKeys = []core.AdminKey{{Name: "a", Key: "admin-key-0123456789", Role: "admin"}, {Name: "v", Key: "viewer-key-0123456789", Role: "viewer"}}

type api struct {
	t   testing.TB
	url string
	key string
}

func newAPI(t testing.TB, o Options) *api {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &api{t: t, url: ts.URL, key: testKeys[0].Key}
}

// do sends a request and decodes the JSON answer.
func (a *api) do(method, path, body string) (int, map[string]any) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.url+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if a.key != "" {
		req.Header.Set("X-API-KEY", a.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		a.t.Fatalf("%s %s: %d, not JSON: %q", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// expect checks the status and, if want is set, that the error message or
// body contains it.
func (a *api) expect(method, path, body string, status int, want string) map[string]any {
	a.t.Helper()
	st, out := a.do(method, path, body)
	js, _ := json.Marshal(out)
	if st != status || (want != "" && !strings.Contains(string(js), want)) {
		a.t.Fatalf("%s %s %s\n got %d %s\nwant %d containing %q", method, path, body, st, js, status, want)
	}
	return out
}

// The CRUD sequence runs without a view (every write reads first), with
// the etcd provider's live view (one transaction per write), and with a
// view that never moves past the start (every write against an existing
// key finds it stale, and learns the truth from the transaction).
func TestAdminCRUD(t *testing.T) {
	for _, view := range []string{"none", "live", "frozen"} {
		t.Run(view, func(t *testing.T) {
			cfg := testConfig(t)
			cli := startEtcd(t, cfg)
			o := Options{Config: cfg, Client: cli, Keys: testKeys}
			switch view {
			case "live":
				o.View = runProvider(t, cfg, cli)
			case "frozen":
				p := core.NewEtcdProvider(cfg, cli, &core.Store{}, 1, "")
				if err := p.Load(context.Background()); err != nil {
					t.Fatal(err)
				}
				o.View = p
			}
			testCRUD(t, newAPI(t, o))
		})
	}
}

// runProvider follows etcd as a node does, until the test ends.
func runProvider(t testing.TB, cfg *core.Config, cli *clientv3.Client) *core.EtcdProvider {
	t.Helper()
	p := core.NewEtcdProvider(cfg, cli, &core.Store{}, 1, "")
	if err := p.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return p
}

func testCRUD(t *testing.T, a *api) {

	out := a.expect("PUT", "/apisix/admin/upstreams/u1", `{"type":"roundrobin","nodes":{"127.0.0.1:7001":1}}`, 201, `"key":"/sluice/upstreams/u1"`)
	created := out["createdIndex"].(float64)
	out = a.expect("PUT", "/apisix/admin/upstreams/u1", `{"nodes":{"127.0.0.1:7002":1}}`, 200, `"127.0.0.1:7002":1`)
	if out["createdIndex"].(float64) != created || out["modifiedIndex"].(float64) <= created {
		t.Fatalf("indexes after update: %v", out)
	}
	a.expect("GET", "/apisix/admin/upstreams/u1", "", 200, `"id":"u1"`)
	a.expect("GET", "/sluice/admin/upstreams/u1", "", 200, `"id":"u1"`)
	a.expect("GET", "/apisix/admin/upstreams/nope", "", 404, "not found")

	// Id in the body instead of the path; mismatch; POST generates one.
	a.expect("PUT", "/apisix/admin/upstreams", `{"id":"u2","nodes":{"127.0.0.1:7003":1}}`, 201, `"/sluice/upstreams/u2"`)
	a.expect("PUT", "/apisix/admin/upstreams/u3", `{"id":"u4","nodes":{"127.0.0.1:7003":1}}`, 400, "wrong upstream id")
	out = a.expect("POST", "/apisix/admin/upstreams", `{"nodes":{"127.0.0.1:7004":1}}`, 201, "")
	gen := out["value"].(map[string]any)["id"].(string)
	a.expect("GET", "/apisix/admin/upstreams/"+gen, "", 200, "7004")

	// References: missing is a 400 at write time; referenced cannot go.
	a.expect("PUT", "/apisix/admin/stream_routes/s1", `{"server_port":9100,"upstream_id":"missing"}`, 400, "failed to fetch upstream info by upstream id [missing]")
	a.expect("PUT", "/apisix/admin/stream_routes/s1", `{"server_port":9100,"upstream_id":"u1"}`, 201, "")
	a.expect("PUT", "/apisix/admin/routes/r1", `{"uri":"/a","upstream_id":"u1"}`, 201, "")
	a.expect("DELETE", "/apisix/admin/upstreams/u1", "", 400, "can not delete this upstream, route [r1] is still using it now")
	a.expect("DELETE", "/apisix/admin/routes/r1", "", 200, `"deleted":"1"`)
	a.expect("DELETE", "/apisix/admin/upstreams/u1", "", 400, "stream_route [s1]")
	a.expect("PATCH", "/apisix/admin/stream_routes/s1", `{"upstream_id":"u2"}`, 200, `"upstream_id":"u2"`)
	a.expect("DELETE", "/apisix/admin/upstreams/u1", "", 200, "")
	a.expect("DELETE", "/apisix/admin/upstreams/u1", "", 404, "")

	// Semantic checks: the data plane's own build runs on every write.
	a.expect("PUT", "/apisix/admin/stream_routes/s2", `{"server_port":9200,"upstream_id":"u2"}`, 400, "server_port: no listen.stream.tcp address")
	a.expect("PUT", "/apisix/admin/upstreams/z", `{"nodes":{"127.0.0.1:1":0}}`, 400, "every node has weight 0")
	a.expect("PUT", "/apisix/admin/upstreams/c", `{"type":"chash","nodes":{"127.0.0.1:1":1}}`, 400, "chash needs a key")
	a.expect("PUT", "/apisix/admin/upstreams/c", `{"type":"chash","hash_on":"consumer","key":"x","nodes":{"127.0.0.1:1":1}}`, 400, "hash_on consumer is not supported yet")
	a.expect("PUT", "/apisix/admin/upstreams/c", `{"type":"chash","hash_on":"header","key":"X-User","nodes":[{"host":"127.0.0.1","port":1,"priority":1},{"host":"127.0.0.1","port":2}]}`, 201, `"hash_on":"header"`)
	a.expect("DELETE", "/apisix/admin/upstreams/c", "", 200, "")

	// PATCH: merge (null deletes) and sub-path.
	a.expect("PATCH", "/apisix/admin/upstreams/u2", `{"retries":1,"timeout":{"connect":2}}`, 200, `"retries":1`)
	out = a.expect("PATCH", "/apisix/admin/upstreams/u2", `{"retries":null,"timeout":{"read":9}}`, 200, "")
	v := out["value"].(map[string]any)
	if _, has := v["retries"]; has || v["timeout"].(map[string]any)["connect"] == nil || v["timeout"].(map[string]any)["read"] == nil {
		t.Fatalf("merge patch result: %v", v)
	}
	a.expect("PATCH", "/apisix/admin/upstreams/u2/nodes", `{"127.0.0.1:7010":5}`, 200, `"nodes":{"127.0.0.1:7010":5}`)
	a.expect("PATCH", "/apisix/admin/upstreams/u2/retries", `-3`, 400, "/retries: minimum")
	a.expect("PATCH", "/apisix/admin/upstreams/none", `{}`, 404, "")

	// List and pagination.
	for i := range 23 {
		a.expect("PUT", fmt.Sprintf("/apisix/admin/upstreams/p%02d", i), fmt.Sprintf(`{"name":"page-%d","labels":{"env":"test"},"nodes":{"127.0.0.1:7001":1}}`, i), 201, "")
	}
	out = a.expect("GET", "/apisix/admin/upstreams?page=3&page_size=10", "", 200, "")
	if out["total"].(float64) != 25 || len(out["list"].([]any)) != 5 {
		t.Fatalf("page 3 of 25: total %v, %d items", out["total"], len(out["list"].([]any)))
	}
	out = a.expect("GET", "/apisix/admin/upstreams?label=env:test&name=page-1", "", 200, "")
	if out["total"].(float64) != 11 { // page-1, page-10 … page-19
		t.Fatalf("filtered total %v", out["total"])
	}
	a.expect("GET", "/apisix/admin/upstreams?page_size=5", "", 400, "page_size")
}

func TestAdminValidation(t *testing.T) {
	cfg := testConfig(t)
	a := newAPI(t, Options{Config: cfg, Client: startEtcd(t, cfg), Keys: testKeys, MaxBody: 1 << 20})
	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"PUT", "/apisix/admin/upstreams/x", `{"nodes":{"127.0.0.1:80":"one"}}`, 400, `"pointer":"/nodes/127.0.0.1:80"`},
		{"PUT", "/apisix/admin/upstreams/x", `{"nodes":{"127.0.0.1:80":1},"colour":"red"}`, 400, "additional properties 'colour' not allowed"},
		{"PUT", "/apisix/admin/upstreams/x", `{"nodes":{"127.0.0.1:80":1},"tls":{"client_cert":"c"}}`, 400, "/tls: not supported yet: upstream TLS"},
		{"PUT", "/apisix/admin/upstreams/x", `{"nodes":{"127.0.0.1:80":1},"checks":{"active":{"type":"https"}}}`, 400, "https probes are not supported yet"},
		{"PUT", "/apisix/admin/upstreams/x", `{"nodes":{"127.0.0.1:80":1},"checks":{"passive":{}}}`, 400, "missing property 'active'"},
		{"PUT", "/apisix/admin/routes/x", `{"uri":"/a","plugins":{"limit-count":[]},"upstream":{"nodes":{"127.0.0.1:80":1}}}`, 400, `"pointer":"/plugins/limit-count"`},
		{"PUT", "/apisix/admin/routes/x", `{"uri":"/a","script":"return 1","upstream":{"nodes":{"127.0.0.1:80":1}}}`, 400, "/script: not supported yet: script (Lua)"},
		{"PUT", "/apisix/admin/stream_routes/x", `{"server_port":0,"upstream":{"nodes":{"127.0.0.1:80":1}}}`, 400, `"pointer":"/server_port"`},
		{"PUT", "/apisix/admin/upstreams/x", `{"nodes":`, 400, "invalid JSON"},
		{"PUT", "/apisix/admin/upstreams/x", `[1]`, 400, "want a JSON object"},
		{"PUT", "/apisix/admin/upstreams/bad%20id", `{"nodes":{"127.0.0.1:80":1}}`, 400, "invalid id"},
		{"PUT", "/apisix/admin/ssls/s", `{}`, 400, "ssls are not supported yet"},
		{"PUT", "/apisix/admin/plugin_configs/p", `{}`, 400, "missing property 'plugins'"},
		{"GET", "/apisix/admin/widgets", ``, 404, "not a resource kind"},
		{"POST", "/apisix/admin/schema/validate/routes", `{"uri":"/a","methods":["FETCH"],"upstream_id":"u"}`, 400, `"pointer":"/methods/0"`},
		{"POST", "/apisix/admin/schema/validate/routes", `{"uri":"/a","upstream_id":"u"}`, 200, `"valid":true`},
		{"POST", "/apisix/admin/schema/validate/ssls", `{}`, 400, "ssls are not supported yet"},
		{"GET", "/apisix/admin/schema/stream_routes", ``, 200, `"server_port"`},
		{"PUT", "/apisix/admin/upstreams/big", `{"desc":"` + strings.Repeat("x", 1<<20) + `"}`, 413, "larger than"},
	}
	for _, tc := range cases {
		a.expect(tc.method, tc.path, tc.body, tc.status, tc.want)
	}
}

func TestAdminAuth(t *testing.T) {
	cfg := testConfig(t)
	cli := startEtcd(t, cfg)
	a := newAPI(t, Options{Config: cfg, Client: cli, Keys: testKeys})
	a.key = ""
	a.expect("GET", "/apisix/admin/upstreams", "", 401, "failed to check token")
	a.expect("GET", "/healthz", "", 200, "ok") // liveness needs no key
	a.key = "admin-key-012345678"              // a prefix of the real key
	a.expect("GET", "/apisix/admin/upstreams", "", 401, "")
	a.key = testKeys[1].Key
	a.expect("GET", "/apisix/admin/upstreams", "", 200, `"total":0`)
	a.expect("PUT", "/apisix/admin/upstreams/x", `{"nodes":{"127.0.0.1:80":1}}`, 403, "read-only")
	a.expect("DELETE", "/apisix/admin/upstreams/x", ``, 403, "read-only")
	a.expect("POST", "/apisix/admin/schema/validate/upstreams", `{"nodes":{"127.0.0.1:80":1}}`, 200, "")

	// The allow-list looks at the socket's peer, never at forwarding headers.
	b := newAPI(t, Options{Config: cfg, Client: cli, Keys: testKeys, Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	req, _ := http.NewRequest("GET", b.url+"/apisix/admin/upstreams", nil)
	req.Header.Set("X-API-KEY", testKeys[0].Key)
	req.Header.Set("X-Forwarded-For", "10.1.2.3")
	req.Header.Set("X-Real-IP", "10.1.2.3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("peer outside allow_admin: %d", resp.StatusCode)
	}
	c := newAPI(t, Options{Config: cfg, Client: cli, Keys: testKeys, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	c.expect("GET", "/apisix/admin/upstreams", "", 200, "")
}

func TestAdminStoreDown(t *testing.T) {
	cfg := testConfig(t)
	dead, err := core.NewEtcdClient(cfg, []string{fmt.Sprintf("http://127.0.0.1:%d", freePort(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	ready := false
	a := newAPI(t, Options{Config: cfg, Client: dead, Keys: testKeys, Timeout: 500e6, Ready: func() (bool, string) { return ready, "etcd" }})
	a.expect("PUT", "/apisix/admin/upstreams/x", `{"nodes":{"127.0.0.1:80":1}}`, 503, "etcd is unavailable")
	a.expect("GET", "/apisix/admin/upstreams", "", 503, "etcd is unavailable")
	a.expect("GET", "/readyz", "", 503, "not ready")
	ready = true
	a.expect("GET", "/readyz", "", 200, "ready")
}

func TestAdminYAMLProvider(t *testing.T) {
	cfg := testConfig(t)
	a := newAPI(t, Options{Config: cfg, Keys: testKeys})
	a.expect("PUT", "/apisix/admin/upstreams/x", `{"nodes":{"127.0.0.1:80":1}}`, 400, "config.provider: yaml")
	a.expect("POST", "/apisix/admin/schema/validate/upstreams", `{"nodes":{"127.0.0.1:80":1}}`, 200, "")
}

func TestEnsureKeyFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "data", "admin.key")
	k1, created, err := EnsureKeyFile(p)
	if err != nil || !created || len(k1) < 32 {
		t.Fatalf("first: %q %v %v", k1, created, err)
	}
	k2, created, err := EnsureKeyFile(p)
	if err != nil || created || k2 != k1 {
		t.Fatalf("second: %q %v %v", k2, created, err)
	}
	if err := chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureKeyFile(p); err == nil {
		t.Fatal("a world-readable key file was accepted")
	}
}

func writeFile(p, body string) error { return os.WriteFile(p, []byte(body), 0o644) }

func chmod(p string, m os.FileMode) error { return os.Chmod(p, m) }

func TestAdminCompileHooks(t *testing.T) {
	cfg := testConfig(t)
	hook := func(s *core.Snapshot) error {
		for _, r := range s.Routes {
			if r.URI == "/refused" {
				return fmt.Errorf("routes: %s: refused by the router", r.ID)
			}
		}
		return nil
	}
	a := newAPI(t, Options{Config: cfg, Client: startEtcd(t, cfg), Keys: testKeys, Compile: []func(*core.Snapshot) error{hook}})
	a.expect("PUT", "/apisix/admin/routes/r", `{"uri":"/refused","upstream":{"nodes":{"127.0.0.1:80":1}}}`, 400, "refused by the router")
	a.expect("PUT", "/apisix/admin/routes/r", `{"uri":"/fine","upstream":{"nodes":{"127.0.0.1:80":1}}}`, 201, "")
}

// A view that is behind etcd never decides a write: what it says is
// compared by revision in the write's transaction, and the truth comes
// back from it.
func TestAdminStaleView(t *testing.T) {
	cfg := testConfig(t)
	cli := startEtcd(t, cfg)
	a := newAPI(t, Options{Config: cfg, Client: cli, Keys: testKeys})
	a.expect("PUT", "/apisix/admin/upstreams/u1", `{"nodes":{"127.0.0.1:7001":1}}`, 201, "")
	a.expect("PUT", "/apisix/admin/upstreams/u2", `{"nodes":{"127.0.0.1:7002":1}}`, 201, "")
	out := a.expect("PUT", "/apisix/admin/routes/r1", `{"uri":"/a","upstream_id":"u1"}`, 201, "")
	created := out["value"].(map[string]any)["create_time"]

	// The view holds u1, u2 and r1 as they are now, and never moves.
	view := core.NewEtcdProvider(cfg, cli, &core.Store{}, 1, "")
	if err := view.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	a = newAPI(t, Options{Config: cfg, Client: cli, Keys: testKeys, View: view})

	// Behind the view's back: u1 changes, u2 goes, r1 is rewritten.
	put := func(k, v string) {
		if _, err := cli.Put(context.Background(), "/sluice/"+k, v); err != nil {
			t.Fatal(err)
		}
	}
	put("upstreams/u1", `{"id":"u1","nodes":{"127.0.0.1:7003":1}}`)
	if _, err := cli.Delete(context.Background(), "/sluice/upstreams/u2"); err != nil {
		t.Fatal(err)
	}
	put("routes/r1", `{"id":"r1","uri":"/b","upstream_id":"u1","create_time":12345}`)

	// A reference the view thinks is there is not: 400, nothing stored.
	a.expect("PUT", "/apisix/admin/routes/r2", `{"uri":"/c","upstream_id":"u2"}`, 400, "failed to fetch upstream info by upstream id [u2]")
	if resp, err := cli.Get(context.Background(), "/sluice/routes/r2"); err != nil || len(resp.Kvs) != 0 {
		t.Fatalf("r2 stored with a missing upstream: %v %v", resp, err)
	}
	// A replace keeps the create_time of what it replaces now, not of
	// what the view remembers.
	out = a.expect("PUT", "/apisix/admin/routes/r1", `{"uri":"/d","upstream_id":"u1"}`, 200, `"uri":"/d"`)
	if got := out["value"].(map[string]any)["create_time"]; got != float64(12345) {
		t.Fatalf("create_time after a replace: %v (the view's was %v)", got, created)
	}
	// PATCH reads the view first; the stale value fails the compare and the
	// patch is made again on the current one.
	out = a.expect("PATCH", "/apisix/admin/routes/r1", `{"desc":"patched"}`, 200, `"desc":"patched"`)
	if v := out["value"].(map[string]any); v["uri"] != "/d" {
		t.Fatalf("patch applied to a stale value: %v", v)
	}
	// POST and a create of a key the view does not know.
	a.expect("PUT", "/apisix/admin/upstreams/u2", `{"nodes":{"127.0.0.1:7002":1}}`, 201, "")
	a.expect("PUT", "/apisix/admin/routes/r2", `{"uri":"/c","upstream_id":"u2"}`, 201, "")
}
