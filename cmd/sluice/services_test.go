package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A stream route with only a service_id serves traffic through the
// service's upstream, made through the Admin API into the embedded etcd; a
// change to the service moves it, and what the service and its upstream
// are used by cannot be deleted.
func TestServiceUpstreamThroughAdminAPI(t *testing.T) {
	a := echoServer(t, func(c net.Conn) { c.Write([]byte("A")) })
	b := echoServer(t, func(c net.Conn) { c.Write([]byte("B")) })
	port, adminPort := freePort(t), freePort(t)
	cfg := etcdConf(t, t.TempDir(), port, adminPort, fmt.Sprintf("etcd: {embedded: true, data_dir: data/etcd, endpoints: [\"http://127.0.0.1:%d\"]}", freePortPair(t)))
	p := start(t, cfg, port)
	api := adminClient{t, fmt.Sprintf("http://127.0.0.1:%d", adminPort)}

	api.must("PUT", "/apisix/admin/upstreams/a", fmt.Sprintf(`{"nodes":{%q:1}}`, a))
	api.must("PUT", "/apisix/admin/services/svc", `{"upstream_id":"a","desc":"shared"}`)
	api.must("PUT", "/apisix/admin/stream_routes/s", fmt.Sprintf(`{"server_port":%d,"service_id":"svc"}`, port))
	waitAnswer(t, port, "A")

	// The service switches to an inline upstream: the route follows.
	api.must("PUT", "/apisix/admin/services/svc", fmt.Sprintf(`{"upstream":{"nodes":{%q:1}}}`, b))
	waitAnswer(t, port, "B")

	api.must("PATCH", "/apisix/admin/services/svc", `{"upstream":null,"upstream_id":"a"}`)
	waitAnswer(t, port, "A")
	for _, c := range []struct{ path, want string }{
		{"/apisix/admin/upstreams/a", "service [svc]"},
		{"/apisix/admin/services/svc", "stream_route [s]"},
	} {
		if st, body := api.do("DELETE", c.path, ""); st != 400 || !strings.Contains(body, c.want) {
			t.Fatalf("DELETE %s: %d %s", c.path, st, body)
		}
	}
	waitAnswer(t, port, "A")
	stop(t, p)
}

// An HTTP route with only a service_id serves through a real upstream: the
// service gives it its upstream and its hosts.
func TestHTTPRouteThroughService(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "web "+r.Host+r.URL.Path)
	}))
	defer web.Close()
	port, adminPort, httpPort := freePort(t), freePort(t), freePort(t)
	cfg := etcdConfHTTP(t, t.TempDir(), port, adminPort,
		fmt.Sprintf("etcd: {embedded: true, data_dir: data/etcd, endpoints: [\"http://127.0.0.1:%d\"]}", freePortPair(t)),
		fmt.Sprintf("%q", fmt.Sprintf("127.0.0.1:%d", httpPort)))
	p := start(t, cfg, port)
	api := adminClient{t, fmt.Sprintf("http://127.0.0.1:%d", adminPort)}
	api.must("PUT", "/apisix/admin/upstreams/web", fmt.Sprintf(`{"nodes":{%q:1}}`, strings.TrimPrefix(web.URL, "http://")))
	api.must("PUT", "/apisix/admin/services/site", `{"upstream_id":"web","hosts":["site.example"]}`)
	api.must("PUT", "/apisix/admin/routes/page", `{"uri":"/page","service_id":"site"}`)

	get := func(host string) (int, string) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/page", httpPort), nil)
		req.Host = host
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var st int
	var body string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st, body = get("site.example"); st == 200 {
			break
		}
	}
	if st != 200 || body != "web site.example/page" {
		t.Fatalf("route through service: %d %q", st, body)
	}
	// The service's hosts are the route's: another host does not match.
	if st, body := get("other.example"); st != 404 {
		t.Fatalf("another host: %d %q", st, body)
	}
	stop(t, p)
}
