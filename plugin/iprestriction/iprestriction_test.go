package iprestriction_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/iprestriction"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
	"github.com/sluice-gateway/sluice/plugin/realip"
)

func TestRestriction(t *testing.T) {
	reg := plugintest.Registry(t, iprestriction.Def)
	tests := []struct {
		conf, remote string
		status       int
		body         string
	}{
		{`{"whitelist":["127.0.0.1","10.0.0.0/8"]}`, "127.0.0.1:1", 0, ""},
		{`{"whitelist":["127.0.0.1","10.0.0.0/8"]}`, "10.9.8.7:1", 0, ""},
		{`{"whitelist":["127.0.0.1","10.0.0.0/8"]}`, "192.168.1.1:1", 403, `{"message":"Your IP address is not allowed"}`},
		{`{"blacklist":["192.168.0.0/16"],"message":"go away","response_code":404}`, "192.168.1.1:1", 404, `{"message":"go away"}`},
		{`{"blacklist":["192.168.0.0/16"]}`, "127.0.0.1:1", 0, ""},
		{`{"whitelist":["::1","2001:db8::/32"]}`, "[2001:db8::5]:1", 0, ""},
		{`{"whitelist":["::1"]}`, "[2001:db8::5]:1", 403, `{"message":"Your IP address is not allowed"}`},
	}
	for _, tt := range tests {
		t.Run(tt.conf+" "+tt.remote, func(t *testing.T) {
			ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"ip-restriction":` + tt.conf + `}`})
			r := plugintest.NewRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", tt.remote).Run(ch)
			if r.Status != tt.status || string(r.Body) != tt.body {
				t.Errorf("got %d %s, want %d %s", r.Status, r.Body, tt.status, tt.body)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	reg := plugintest.Registry(t, iprestriction.Def)
	for conf, want := range map[string]string{
		`{}`: "missing property 'whitelist'",
		`{"whitelist":["1.2.3.4"],"blacklist":["5.6.7.8"]}`: "'oneOf' failed",
		`{"whitelist":["not-an-ip"]}`:                       "whitelist[0]: want an IP or CIDR",
		`{"blacklist":["10.0.0.0/99"]}`:                     "blacklist[0]: want an IP or CIDR",
		`{"whitelist":["1.2.3.4"],"response_code":500}`:     "/response_code",
	} {
		_, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"ip-restriction":` + conf + `}`})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", conf, err, want)
		}
	}
}

// APISIX's documented examples (docs/en/latest/plugins/ip-restriction.md),
// with the answers the page shows. The page's curl comes from outside
// 192.168.0.0/24; "Restrict Access Using Modified IP" has real-ip take the
// address from the realip argument.
func TestDocExamples(t *testing.T) {
	reg := plugintest.Registry(t, iprestriction.Def, realip.Def)
	for _, tt := range []struct {
		name, plugins, target string
		status                int
		body                  string
	}{
		{"Restrict Access by Whitelisting", `{"ip-restriction": {"whitelist": ["192.168.0.1/24"], "message": "Access denied"}}`,
			"/anything", 403, `{"message":"Access denied"}`},
		{"Restrict Access by Whitelisting, from inside", `{"ip-restriction": {"whitelist": ["192.168.0.1/24"], "message": "Access denied"}}`,
			"/anything?realip=192.168.0.77", 403, `{"message":"Access denied"}`}, // no real-ip: the socket's address counts
		{"Restrict Access Using Modified IP: allowed", `{"ip-restriction": {"whitelist": ["192.168.1.241"]}, "real-ip": {"source": "arg_realip"}}`,
			"/anything?realip=192.168.1.241", 0, ""},
		{"Restrict Access Using Modified IP: refused", `{"ip-restriction": {"whitelist": ["192.168.1.241"]}, "real-ip": {"source": "arg_realip"}}`,
			"/anything?realip=192.168.10.24", 403, `{"message":"Your IP address is not allowed"}`},
	} {
		ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: tt.plugins})
		res := plugintest.NewRequest("GET "+tt.target+" HTTP/1.1\r\nHost: 127.0.0.1:9080\r\n\r\n", "10.1.2.3:5000").Run(ch)
		if res.Status != tt.status || string(res.Body) != tt.body {
			t.Errorf("%s: %d %s, want %d %s", tt.name, res.Status, res.Body, tt.status, tt.body)
		}
	}
	// Older versions of the page.
	for _, conf := range []string{
		`{"whitelist":["127.0.0.1","113.74.26.106/24"]}`,
		`{"blacklist":["127.0.0.0/24"],"message":"Do you want to do something bad?"}`,
	} {
		if _, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"ip-restriction":` + conf + `}`}); err != nil {
			t.Errorf("%s: %v", conf, err)
		}
	}
}

// Through the proxy: an HTTP route and a stream route, both refusing the
// loopback client.
func TestE2E(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	n := e2e.Start(t, e2e.Options{Stream: true, Plugins: []plugin.Def{iprestriction.Def}, Routes: fmt.Sprintf(`
routes:
  - {id: open, uri: /open, upstream: {nodes: {%q: 1}}, plugins: {ip-restriction: {whitelist: ["127.0.0.0/8"]}}}
  - {id: shut, uri: /shut, upstream: {nodes: {%q: 1}}, plugins: {ip-restriction: {blacklist: ["127.0.0.1"], response_code: 404}}}
stream_routes:
  - {id: s, upstream: {nodes: {%q: 1}}, plugins: {ip-restriction: {blacklist: ["127.0.0.1"]}}}
`, up, up, up)})
	cl := e2e.Client()
	for path, want := range map[string]int{"/open": 200, "/shut": 404} {
		resp, err := cl.Get(n.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d %s, want %d", path, resp.StatusCode, b, want)
		}
	}
	c, err := net.Dial("tcp", n.StreamAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	// Closed with nothing sent: a FIN, or a reset when the close found our
	// bytes unread.
	if b, err := io.ReadAll(c); len(b) != 0 || (err != nil && !errors.Is(err, syscall.ECONNRESET)) {
		t.Errorf("refused stream: read %q, %v; want the connection closed with nothing", b, err)
	}
}
