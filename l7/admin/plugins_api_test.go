package admin

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/plugin"
)

func TestPluginEndpoints(t *testing.T) {
	mk := func(name string, prio int, consumer string) plugin.Def {
		return plugin.Def{Name: name, Priority: prio, ConsumerSchema: consumer,
			Schema: `{"type":"object","properties":{"n":{"type":"integer"}}}`,
			New:    func(*plugin.Build, []byte) (any, error) { return struct{}{}, nil }}
	}
	reg, err := plugin.NewRegistry([]string{"a-auth", "b"}, mk("a-auth", 2, `{"type":"object","required":["key"]}`), mk("b", 1, ""), mk("off", 3, ""))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	a := newAPI(t, Options{Config: cfg, Keys: testKeys, Plugins: reg})
	req, _ := http.NewRequest("GET", a.url+"/apisix/admin/plugins/list", nil)
	req.Header.Set("X-API-KEY", a.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `["a-auth","b"]` {
		t.Errorf("list: %d %s", resp.StatusCode, b)
	}
	a.expect("GET", "/apisix/admin/plugins/b", "", 200, `"properties":{"n":{"type":"integer"}}`)
	a.expect("GET", "/apisix/admin/plugins/a-auth?schema_type=consumer", "", 200, `"required":["key"]`)
	a.expect("GET", "/apisix/admin/plugins/b?schema_type=consumer", "", 404, "has no consumer schema")
	a.expect("GET", "/apisix/admin/plugins/off", "", 404, "not enabled")
	a.expect("GET", "/apisix/admin/plugins?all=true", "", 200, `"priority":2`)
	a.expect("PUT", "/apisix/admin/plugins/b", "{}", 405, "read-only")
}
