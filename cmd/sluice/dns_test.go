package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/testnet"
)

// twoLoopbackServers starts HTTP servers on 127.0.0.2 and 127.0.0.3 on the
// same port, answering "A" and "B": one upstream node name, two addresses.
func twoLoopbackServers(t *testing.T) int {
	t.Helper()
	for range 20 {
		a, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Skipf("127.0.0.2 is not usable here: %v", err)
		}
		port := a.Addr().(*net.TCPAddr).Port
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.3:%d", port))
		if err != nil {
			a.Close()
			continue
		}
		for ln, name := range map[net.Listener]string{a: "A", b: "B"} {
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
		}
		return port
	}
	t.Fatal("no port free on both 127.0.0.2 and 127.0.0.3")
	return 0
}

// Upstream node names through the real binary: config.yaml's dns_resolver
// points at a DNS server the test runs. A name resolves before the first
// request; a changed answer is in use within the TTL; a name that does not
// resolve yet gets 503 until it does; when the DNS server goes away the
// last good address keeps serving, and the failure is logged once.
func TestDNSUpstreams(t *testing.T) {
	dns := testnet.ServeDNS(t)
	dns.Set("svc.sluice.test", 1, "127.0.0.2")
	up := twoLoopbackServers(t)
	port := freePort(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`listen: {http: ["127.0.0.1:%d"]}
admin: {listen: ""}
workers: 1
config: {provider: yaml, yaml_path: routes.yaml}
dns_resolver: [%q]
resolver_timeout: 1
`, port, dns.Addr)
	routes := fmt.Sprintf(`routes:
  - {id: svc, uri: /svc, upstream: {nodes: {"svc.sluice.test:%d": 1}}}
  - {id: late, uri: /late, upstream: {nodes: {"late.sluice.test:%d": 1}}}
`, up, up)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(routes), 0o644)
	p := start(t, filepath.Join(dir, "config.yaml"), port)

	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, p.log)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitBody := func(path, want string) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < 10*time.Second {
			if code, body := get(path); code == 200 && body == want {
				return time.Since(start)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s never answered %q:\n%s", path, want, p.log)
		return 0
	}

	if code, body := get("/svc"); code != 200 || body != "A" {
		t.Fatalf("first request: %d %q, want 200 from 127.0.0.2\n%s", code, body, p.log)
	}
	if code, body := get("/late"); code != 503 || !strings.Contains(body, "no valid upstream node") {
		t.Fatalf("a name that does not resolve: %d %q, want 503", code, body)
	}

	dns.Set("svc.sluice.test", 1, "127.0.0.3")
	took := waitBody("/svc", "B")
	t.Logf("127.0.0.3 served %v after the DNS answer changed (TTL 1 s)", took)
	if took > 2500*time.Millisecond {
		t.Errorf("the new address took %v to be used with a 1 s TTL", took)
	}

	dns.Set("late.sluice.test", 60, "127.0.0.2")
	waitBody("/late", "A")

	dns.Stop()
	for end := time.Now().Add(3500 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if code, body := get("/svc"); code != 200 || body != "B" {
			t.Fatalf("with the DNS server gone: %d %q, want the last good address to serve\n%s", code, body, p.log)
		}
	}
	log := p.log.String()
	if n := strings.Count(log, "resolving svc.sluice.test failed"); n != 1 {
		t.Fatalf("the failure was logged %d times over 3 TTLs, want once:\n%s", n, log)
	}
	if !strings.Contains(log, "svc.sluice.test is [127.0.0.3]") {
		t.Fatalf("the change was not logged:\n%s", log)
	}
}
