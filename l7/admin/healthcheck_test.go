package admin

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/internal/testnet"
)

// GET /v1/healthcheck answers in the shape of APISIX's control API, needs
// no key, and lists one checker per upstream with checks (inline ones by
// their route); /v1/healthcheck/<kind>/<id> answers one.
func TestHealthcheckEndpoint(t *testing.T) {
	up := testnet.Serve(t, func(c *net.TCPConn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	})
	dead := testnet.RefusedAddr(t)
	cfg := testConfig(t)
	routes := filepath.Join(t.TempDir(), "routes.yaml")
	checks := "checks: {active: {healthy: {interval: 0.05}, unhealthy: {interval: 0.05}}}"
	writeFile(routes, fmt.Sprintf(`
upstreams:
  - {id: web, nodes: {%q: 1, %q: 1}, %s}
  - {id: plain, nodes: {%q: 1}}
routes:
  - {id: r1, uri: /a, upstream: {nodes: {%q: 1}, checks: {active: {type: tcp}}}}
`, up, dead, checks, up, up))
	snap, err := core.LoadResources(cfg, routes, 1)
	if err != nil {
		t.Fatal(err)
	}
	store := &core.Store{}
	if err := store.Publish(snap); err != nil {
		t.Fatal(err)
	}
	g, err := core.NewGroup(1, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	t.Cleanup(g.Stop)
	store.Health().Start(g)
	a := newAPI(t, Options{Config: cfg, Keys: testKeys, Health: store.Health()})
	a.key = "" // the control API needs none

	get := func(path string) (int, []byte) {
		resp, err := http.Get(a.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	type node struct {
		IP      string            `json:"ip"`
		Port    int               `json:"port"`
		Status  string            `json:"status"`
		Counter map[string]uint32 `json:"counter"`
	}
	type checker struct {
		Name  string `json:"name"`
		Type  string `json:"type"`
		Nodes []node `json:"nodes"`
	}
	var list []checker
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get("/v1/healthcheck")
		if code != 200 {
			t.Fatalf("GET /v1/healthcheck: %d %s", code, body)
		}
		list = nil
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if len(list) == 2 && len(list[1].Nodes) == 2 && list[1].Nodes[1].Status == "unhealthy" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dead node never showed unhealthy: %s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if list[0].Name != "/apisix/routes/r1" || list[0].Type != "tcp" || list[1].Name != "/apisix/upstreams/web" || list[1].Type != "http" {
		t.Errorf("checkers %+v", list)
	}
	upAP, deadAP := netip.MustParseAddrPort(up), netip.MustParseAddrPort(dead)
	n0, n1 := list[1].Nodes[0], list[1].Nodes[1]
	if n0.IP != upAP.Addr().String() || n0.Port != int(upAP.Port()) || n0.Status != "healthy" ||
		n1.IP != deadAP.Addr().String() || n1.Port != int(deadAP.Port()) || n1.Counter["tcp_failure"] != 2 {
		t.Errorf("nodes %+v", list[1].Nodes)
	}
	keys := func(m map[string]uint32) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	if ks := keys(n1.Counter); !reflect.DeepEqual(ks, []string{"http_failure", "success", "tcp_failure", "timeout_failure"}) {
		t.Errorf("counter fields %v", ks)
	}

	code, body := get("/v1/healthcheck/upstreams/web")
	var one checker
	if code != 200 || json.Unmarshal(body, &one) != nil || one.Name != "/apisix/upstreams/web" || len(one.Nodes) != 2 {
		t.Errorf("one upstream: %d %s", code, body)
	}
	for _, p := range []string{"/v1/healthcheck/upstreams/plain", "/v1/healthcheck/upstreams/nope", "/v1/healthcheck/widgets/web"} {
		if code, body := get(p); code != 404 {
			t.Errorf("GET %s: %d %s", p, code, body)
		}
	}
	if code, body := get("/v1/healthcheck/routes/r1"); code != 200 {
		t.Errorf("inline upstream: %d %s", code, body)
	}

	deny := newAPI(t, Options{Config: cfg, Keys: testKeys, Health: store.Health(), Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	resp, err := http.Get(deny.url + "/v1/healthcheck")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("from outside allow_admin: %d", resp.StatusCode)
	}
}
