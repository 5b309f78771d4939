package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The real binary with prometheus enabled serves APISIX's metrics on
// plugin_attr's address, counting requests proxied through a route with
// the plugin.
func TestPrometheusExport(t *testing.T) {
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })}
	go up.Serve(upLn)
	defer up.Close()

	port, mport := freePort(t), freePort(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`listen: {http: ["127.0.0.1:%d"]}
workers: 1
config: {provider: yaml, yaml_path: routes.yaml}
admin: {listen: ""}
plugins: [prometheus]
plugin_attr:
  prometheus:
    export_uri: /m
    export_addr: {ip: 127.0.0.1, port: %d}
`, port, mport)
	routes := fmt.Sprintf(`routes:
  - {id: r1, name: hello, uri: /hello, plugins: {prometheus: {prefer_name: true}}, upstream: {nodes: {%q: 1}}}
  - {id: r2, uri: /quiet, upstream: {nodes: {%q: 1}}}
`, upLn.Addr(), upLn.Addr())
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(routes), 0o644)
	start(t, filepath.Join(dir, "config.yaml"), port)

	cl := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/hello", "/hello", "/hello", "/quiet"} {
		res, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	var body string
	// The log phase runs once the answer is out: the last request may be
	// counted a moment after the client has it.
	want := `apisix_http_status{code="200",consumer="",matched_host="",matched_uri="/hello",node="127.0.0.1",route="hello",service=""} 3`
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		res, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d/m", mport))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if body = string(b); strings.Contains(body, want) {
			break
		}
	}
	for _, w := range []string{
		want,
		`apisix_http_latency_count{consumer="",node="127.0.0.1",route="hello",service="",type="upstream"} 3`,
		`apisix_http_requests_total 3`,
		`apisix_nginx_http_current_connections{state="active"}`,
		`apisix_node_info{hostname=`,
	} {
		if !strings.Contains(body, w) {
			t.Errorf("metrics lack %s", w)
		}
	}
	if strings.Contains(body, `route="r2"`) {
		t.Error("a route without the plugin was counted")
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
}

// A taken export address stops a node that lists prometheus in `plugins`,
// and is only a warning for one that enables every plugin implicitly.
func TestPrometheusExportAddrTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	mport := taken.Addr().(*net.TCPAddr).Port
	for _, explicit := range []bool{true, false} {
		port := freePort(t)
		dir := t.TempDir()
		cfg := fmt.Sprintf("listen: {http: [\"127.0.0.1:%d\"]}\nworkers: 1\nconfig: {provider: yaml}\nadmin: {listen: \"\"}\nplugin_attr: {prometheus: {export_addr: {port: %d}}}\n", port, mport)
		if explicit {
			cfg += "plugins: [prometheus]\n"
		}
		os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o644)
		os.WriteFile(filepath.Join(dir, "routes.yaml"), nil, 0o644)
		if explicit {
			cmd := exec.Command(binPath, "run", "-c", filepath.Join(dir, "config.yaml"))
			done := make(chan struct{})
			var out []byte
			go func() { out, _ = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("explicit prometheus on a taken port: still running\n%s", out)
			}
			if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "plugin_attr.prometheus.export_addr") {
				t.Errorf("explicit: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
			}
			continue
		}
		p := start(t, filepath.Join(dir, "config.yaml"), port)
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(p.log.String(), "prometheus: no metrics listener") && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(p.log.String(), "prometheus: no metrics listener") {
			t.Errorf("implicit: no warning in\n%s", p.log)
		}
	}
}
