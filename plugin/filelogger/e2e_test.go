package filelogger_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/filelogger"
)

// Through the real proxy: a log_format from plugin_metadata, entries in a
// real file, the route's and the request's values in them.
func TestE2E(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "hello")
	}))
	n := e2e.Start(t, e2e.Options{
		Plugins: []plugin.Def{filelogger.Def},
		Routes: fmt.Sprintf(`
plugin_metadata:
  - id: file-logger
    log_format: {host: $host, client_ip: $remote_addr, status: $status, uri: $uri, upstream: $upstream_addr}
routes:
  - id: r1
    uris: [/hello, /missing]
    plugins:
      file-logger: {path: %q}
    upstream: {nodes: {%q: 1}}
`, path, up),
	})
	cl := e2e.Client()
	for _, p := range []string{"/hello", "/missing", "/hello"} {
		res, err := cl.Get(n.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	ls := readLines(t, path, 3)
	for i, want := range []string{"/hello 200", "/missing 404", "/hello 200"} {
		var e map[string]string
		if err := json.Unmarshal([]byte(ls[i]), &e); err != nil {
			t.Fatalf("%s: %v", ls[i], err)
		}
		if got := e["uri"] + " " + e["status"]; got != want || e["host"] != "127.0.0.1" || e["client_ip"] != "127.0.0.1" ||
			e["upstream"] != up || e["route_id"] != "r1" {
			t.Errorf("line %d: %s, want %s", i, ls[i], want)
		}
	}
}
