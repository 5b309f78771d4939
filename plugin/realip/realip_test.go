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
	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/realip"
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

// APISIX's documented examples.
func TestDocExamples(t *testing.T) {
	reg := plugintest.Registry(t, realip.Def)
	for _, conf := range []string{
		`{"source":"arg_realip","trusted_addresses":["127.0.0.0/24"]}`,
		`{"source":"http_x_forwarded_for","trusted_addresses":["192.128.0.0/16","127.0.0.0/24"],"recursive":true}`,
		`{"source":"http_x_forwarded_for"}`,
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"real-ip":` + conf + `}`}); err != nil {
			t.Errorf("%s: %v", conf, err)
		}
	}
	for conf, want := range map[string]string{
		`{}`: "missing property 'source'",
		`{"source":"arg_x","trusted_addresses":["x"]}`: "trusted_addresses[0]",
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"real-ip":` + conf + `}`}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", conf, err, want)
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
