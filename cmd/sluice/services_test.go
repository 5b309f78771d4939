package main

import (
	"fmt"
	"net"
	"strings"
	"testing"
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
	api.must("PUT", "/apisix/admin/services/svc", `{"upstream_id":"a","plugins":{"limit-conn":{"conn":10}}}`)
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
