package realip_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/iprestriction"
	"github.com/sluice-gateway/sluice/plugin/limitcount"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/realip"
	"github.com/sluice-gateway/sluice/plugin/responserewrite"
)

func TestRealIP(t *testing.T) {
	reg := plugintest.Registry(t, realip.Def)
	tests := []struct{ conf, hdr, remote, want string }{
		{`{"source":"http_x_forwarded_for"}`, "X-Forwarded-For: 1.2.3.4\r\n", "127.0.0.1:1", "1.2.3.4"},
		{`{"source":"http_x_forwarded_for"}`, "X-Forwarded-For: 1.1.1.1, 10.0.0.1\r\n", "127.0.0.1:1", "10.0.0.1"},
		{`{"source":"http_x_forwarded_for","recursive":true,"trusted_addresses":["127.0.0.1","10.0.0.0/8"]}`, "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 10.0.0.1\r\n", "127.0.0.1:1", "2.2.2.2"},
		{`{"source":"http_x_forwarded_for","trusted_addresses":["10.0.0.0/8"]}`, "X-Forwarded-For: 1.2.3.4\r\n", "127.0.0.1:1", "127.0.0.1"},
		{`{"source":"arg_realip"}`, "", "127.0.0.1:1", "5.6.7.8"},
		{`{"source":"http_x_real"}`, "X-Real: [2001:db8::1]:443\r\n", "127.0.0.1:1", "2001:db8::1"},
		{`{"source":"http_x_real"}`, "X-Real: not-an-ip\r\n", "127.0.0.1:1", "127.0.0.1"},
		{`{"source":"http_x_missing"}`, "", "127.0.0.1:1", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.conf+" "+tt.hdr, func(t *testing.T) {
			ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"real-ip":` + tt.conf + `}`})
			r := plugintest.NewRequest("GET /?realip=5.6.7.8 HTTP/1.1\r\nHost: a\r\n"+tt.hdr+"\r\n", tt.remote)
			r.Run(ch)
			if got := r.Ctx.Route.RemoteAddr.String(); got != tt.want {
				t.Errorf("client address %s, want %s", got, tt.want)
			}
			if up := r.Upstream(); tt.want != "127.0.0.1" && !strings.Contains(up, "X-Real-IP: ") {
				t.Errorf("upstream %q: no X-Real-IP", up)
			}
		})
	}
}

// The examples of APISIX's real-ip page (docs/en/latest/plugins/real-ip.md,
// 3.18), sent as the page sends them (the route bodies, with the upstream
// pointed at a local server), and the answers the page shows: the
// response-rewrite headers carry the address (and port) real-ip found.
func TestDocExamples(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{realip.Def, responserewrite.Def}, Routes: "routes: []\n"})
	examples := []struct {
		name, route string
		query, xff  string
		want        map[string]string
	}{
		{"Obtain Real Client Address From URI Parameter", `{
			"id": "real-ip-route", "uri": "/get",
			"plugins": {
				"real-ip": {"source": "arg_realip", "trusted_addresses": ["127.0.0.0/24"]},
				"response-rewrite": {"headers": {"remote_addr": "$remote_addr", "remote_port": "$remote_port"}}
			},
			"upstream": {"type": "roundrobin", "nodes": {"httpbin.org:80": 1}}}`,
			"?realip=1.2.3.4:9080", "", map[string]string{"remote_addr": "1.2.3.4", "remote_port": "9080"}},
		{"Obtain Real Client Address From Header", `{
			"id": "real-ip-route", "uri": "/get",
			"plugins": {
				"real-ip": {"source": "http_x_forwarded_for", "trusted_addresses": ["127.0.0.0/24"]},
				"response-rewrite": {"headers": {"remote_addr": "$remote_addr"}}
			},
			"upstream": {"type": "roundrobin", "nodes": {"httpbin.org:80": 1}}}`,
			"", "10.26.3.19", map[string]string{"remote_addr": "10.26.3.19"}},
		{"Obtain Real Client Address Behind Multiple Proxies", `{
			"id": "real-ip-route", "uri": "/get",
			"plugins": {
				"real-ip": {"source": "http_x_forwarded_for", "recursive": true, "trusted_addresses": ["192.128.0.0/16", "127.0.0.1/32"]},
				"response-rewrite": {"headers": {"remote_addr": "$remote_addr"}}
			},
			"upstream": {"type": "roundrobin", "nodes": {"httpbin.org:80": 1}}}`,
			"", "127.0.0.2, 192.128.1.1, 127.0.0.1", map[string]string{"remote_addr": "127.0.0.2"}},
	}
	cl := e2e.Client()
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			route := strings.Replace(ex.route, "httpbin.org:80", up, 1)
			if err := n.Reload("routes:\n  - " + strings.ReplaceAll(route, "\n", " ") + "\n"); err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("GET", n.URL+"/get"+ex.query, nil)
			if ex.xff != "" {
				req.Header.Set("X-Forwarded-For", ex.xff)
			}
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			for k, v := range ex.want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
	reg := plugintest.Registry(t, realip.Def)
	for conf, want := range map[string]string{
		`{}`: "missing property 'source'",
		`{"source":"arg_x","trusted_addresses":["x"]}`: "trusted_addresses[0]",
		`{"source":"arg_x","recursive":"yes"}`:         "recursive",
		`{"source":"arg_x","unknown":1}`:               "'unknown' not allowed",
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"real-ip":` + conf + `}`}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", conf, err, want)
		}
	}
}

// real-ip's address is the one the limits count by, and the port it was
// given (or the client's own) is $remote_port; without trusted addresses,
// recursive takes the last address as APISIX does.
func TestClientAddress(t *testing.T) {
	reg := plugintest.Registry(t, realip.Def, limitcount.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"real-ip":{"source":"http_x_forwarded_for","recursive":true},"limit-count":{"count":1,"time_window":60}}`})
	remotePort := plugin.ParseVar("remote_port")
	for _, tt := range []struct{ xff, addr, port, upstream string }{
		{"1.1.1.1, 2.2.2.2", "2.2.2.2", "5000", "X-Real-IP: 2.2.2.2\r\n"},
		{"3.3.3.3:8080", "3.3.3.3", "8080", "X-Real-IP: 3.3.3.3\r\n"},
		{"[2001:db8::1]:443", "2001:db8::1", "443", "X-Real-IP: 2001:db8::1\r\n"},
		{"4.4.4.4:0", "127.0.0.1", "5000", ""},
	} {
		r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: "+tt.xff+"\r\n\r\n", "127.0.0.1:5000")
		if res := r.Run(ch); res.Stopped() {
			t.Fatalf("%s: first request stopped: %d", tt.xff, res.Status)
		}
		port, _ := r.Ctx.Get(&remotePort)
		if got := r.Ctx.Route.RemoteAddr.String(); got != tt.addr || string(port) != tt.port || r.Ctx.Remote.Addr().String() != tt.addr {
			t.Errorf("%s: client %s (%s) port %s, want %s port %s", tt.xff, got, r.Ctx.Remote, port, tt.addr, tt.port)
		}
		if up := r.Upstream(); !strings.Contains(up, tt.upstream) {
			t.Errorf("%s: upstream head %q, want %q", tt.xff, up, tt.upstream)
		}
		// The same address again is over the limit: the limit counts the
		// address real-ip found, not the socket's peer.
		if res := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: "+tt.xff+"\r\n\r\n", "127.0.0.1:5000").Run(ch); tt.upstream != "" && res.Status != 503 {
			t.Errorf("%s: second request %d, want 503", tt.xff, res.Status)
		}
	}
}

// Through the proxy, ip-restriction sees the address real-ip found.
func TestE2E(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Header.Get("X-Real-IP")) }))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{realip.Def, iprestriction.Def}, Routes: fmt.Sprintf(`
routes: [{id: r, uri: "/*", upstream: {nodes: {%q: 1}}, plugins: {real-ip: {source: http_x_forwarded_for, trusted_addresses: ["127.0.0.1"]}, ip-restriction: {blacklist: ["6.6.6.6"]}}}]
`, up)})
	cl := e2e.Client()
	for xff, want := range map[string]int{"1.2.3.4": 200, "6.6.6.6": 403} {
		req, _ := http.NewRequest("GET", n.URL+"/", nil)
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == 200 && string(b) != xff) {
			t.Errorf("%s: %d %q", xff, resp.StatusCode, b)
		}
	}
}
