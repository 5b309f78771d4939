package peers

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Route is one proxied port: connections to 127.0.0.1:Port go to Upstream.
type Route struct {
	Port     int
	Upstream string // host:port
}

// Env is what every proxy needs to start: where, on which CPU, and the
// binaries that are not on PATH.
type Env struct {
	Dir    string // temp dir; each proxy gets a sub-directory
	CPU    int    // the proxy's CPU; -1 for no pinning
	Self   string // this executable, for the Go comparators
	Sluice string // path of bin/sluice
	Nofile uint64 // RLIMIT_NOFILE in force (children inherit it)
}

// Proxy is one row of the comparison.
type Proxy struct {
	Name string
	// Check says why the proxy cannot run here (ErrNotInstalled wrapped), or nil.
	Check   func(e *Env) error
	StartL4 func(e *Env, dir string, rs []Route) (*Proc, error) // nil: no L4 row
	StartL7 func(e *Env, dir string, rs []Route) (*Proc, error) // nil: no L7 row
}

// Launch starts the proxy with routes in a fresh sub-directory of e.Dir and
// waits until every route's port accepts a connection (10 s at most).
func (px *Proxy) Launch(e *Env, l7 bool, rs []Route) (*Proc, error) {
	start := px.StartL4
	kind := "l4"
	if l7 {
		start, kind = px.StartL7, "l7"
	}
	dir, err := os.MkdirTemp(e.Dir, px.Name+"-"+kind+"-")
	if err != nil {
		return nil, err
	}
	p, err := start(e, dir, rs)
	if err != nil {
		return nil, err
	}
	ports := make([]int, len(rs))
	for i, r := range rs {
		ports[i] = r.Port
	}
	if err := WaitReady(p, ports, 10*time.Second); err != nil {
		p.Stop(time.Second)
		return nil, err
	}
	return p, nil
}

// WaitReady polls until every port on 127.0.0.1 accepts a TCP connection,
// the process exits, or timeout passes.
func WaitReady(p *Proc, ports []int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, port := range ports {
		addr := "127.0.0.1:" + strconv.Itoa(port)
		for {
			if done, err := p.Exited(); done {
				return fmt.Errorf("exited (%v): %s", err, p.LogTail(3))
			}
			c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not accepting after %v: %s", addr, timeout, p.LogTail(3))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func needBin(name string) func(*Env) error {
	return func(*Env) error {
		if _, err := exec.LookPath(name); err != nil {
			return fmt.Errorf("%w: %s not on PATH", ErrNotInstalled, name)
		}
		return nil
	}
}

func write(dir, name, text string) (string, error) {
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, []byte(text), 0o644)
}

// Catalogue lists every proxy the harness knows, in report order.
func Catalogue() []*Proxy {
	return []*Proxy{
		{Name: "sluice", Check: checkSluice, StartL4: sluiceL4, StartL7: sluiceL7},
		{Name: "nginx", Check: checkNginx, StartL4: nginxL4, StartL7: nginxL7},
		{Name: "haproxy", Check: needBin("haproxy"), StartL4: haproxyL4, StartL7: haproxyL7},
		{Name: "caddy", Check: needBin("caddy"), StartL7: caddyL7},
		{Name: "gnet", Check: func(*Env) error { return nil }, StartL4: goProxy("gnetproxy")},
		{Name: "std", Check: func(*Env) error { return nil }, StartL4: goProxy("stdproxy")},
	}
}

// ---- sluice ----

func checkSluice(e *Env) error {
	if e.Sluice == "" {
		return fmt.Errorf("%w: no -sluice path given", ErrNotInstalled)
	}
	if _, err := os.Stat(e.Sluice); err != nil {
		return fmt.Errorf("failed to start: %s not found (make build)", e.Sluice)
	}
	return nil
}

// sluiceConfig is conf/config.yaml as DESIGN.md's contract describes it,
// loopback only; stream is the list of stream ports (none for L7).
func sluiceConfig(httpPort, adminPort int, stream []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen:\n  http: [\"127.0.0.1:%d\"]\n", httpPort)
	if len(stream) > 0 {
		addrs := make([]string, len(stream))
		for i, p := range stream {
			addrs[i] = fmt.Sprintf("%q", "127.0.0.1:"+strconv.Itoa(p))
		}
		fmt.Fprintf(&b, "  stream:\n    tcp: [%s]\n", strings.Join(addrs, ", "))
	}
	fmt.Fprintf(&b, "admin:\n  listen: \"127.0.0.1:%d\"\n", adminPort)
	b.WriteString("  keys:\n    - {name: admin, key: bench-only-key, role: admin}\n")
	b.WriteString("workers: 1\nconfig:\n  provider: yaml\n  yaml_path: routes.yaml\nplugins: []\n")
	return b.String()
}

func upstreamYAML(addr string) string {
	return fmt.Sprintf("{type: roundrobin, nodes: {%q: 1}}", addr)
}

func startSluice(e *Env, dir, config, routes string) (*Proc, error) {
	cfg, err := write(dir, "config.yaml", config)
	if err != nil {
		return nil, err
	}
	if _, err := write(dir, "routes.yaml", routes); err != nil {
		return nil, err
	}
	return Start("sluice", e.CPU, dir, []string{"GOMAXPROCS=1"}, e.Sluice, "run", "-c", cfg)
}

func sluiceL4(e *Env, dir string, rs []Route) (*Proc, error) {
	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	var stream []int
	var routes strings.Builder
	routes.WriteString("stream_routes:\n")
	for i, r := range rs {
		stream = append(stream, r.Port)
		fmt.Fprintf(&routes, "  - {id: s%d, server_port: %d, upstream: %s}\n", i, r.Port, upstreamYAML(r.Upstream))
	}
	return startSluice(e, dir, sluiceConfig(ports[0], ports[1], stream), routes.String())
}

func sluiceL7(e *Env, dir string, rs []Route) (*Proc, error) {
	if len(rs) != 1 {
		return nil, errors.New("sluice l7: one route per instance")
	}
	admin, err := FreePorts(1)
	if err != nil {
		return nil, err
	}
	routes := fmt.Sprintf("routes:\n  - {id: x, uri: \"/*\", upstream: %s}\n", upstreamYAML(rs[0].Upstream))
	return startSluice(e, dir, sluiceConfig(rs[0].Port, admin[0], nil), routes)
}

// ---- nginx ----

const nginxStreamModule = "/usr/lib/nginx/modules/ngx_stream_module.so"

// nginxStreamDynamic reports whether nginx was built with the stream module
// as a loadable module (Debian: --with-stream=dynamic), which must then be
// loaded by the config.
func nginxStreamDynamic() (dynamic bool, err error) {
	out, err := exec.Command("nginx", "-V").CombinedOutput()
	if err != nil {
		return false, err
	}
	s := string(out)
	switch {
	case strings.Contains(s, "--with-stream=dynamic"):
		return true, nil
	case strings.Contains(s, "--with-stream"):
		return false, nil
	}
	return false, errors.New("nginx built without the stream module")
}

func checkNginx(e *Env) error {
	return needBin("nginx")(e)
}

func nginxHead(dir string, nofile uint64, stream bool) (string, error) {
	var b strings.Builder
	if stream {
		dyn, err := nginxStreamDynamic()
		if err != nil {
			return "", err
		}
		if dyn {
			if _, err := os.Stat(nginxStreamModule); err != nil {
				return "", fmt.Errorf("%w: %s missing (apt-get install libnginx-mod-stream)", ErrNotInstalled, nginxStreamModule)
			}
			fmt.Fprintf(&b, "load_module %s;\n", nginxStreamModule)
		}
	}
	// A proxied connection holds two descriptors; leave room for the rest.
	conns := nofile - 64
	if conns > 65536 {
		conns = 65536
	}
	fmt.Fprintf(&b, `worker_processes 1;
worker_rlimit_nofile %d;
daemon off;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections %d; }
`, nofile, dir, dir, conns)
	return b.String(), nil
}

func startNginx(name string, cpu int, dir, conf string) (*Proc, error) {
	path, err := write(dir, "nginx.conf", conf)
	if err != nil {
		return nil, err
	}
	return Start(name, cpu, dir, nil, "nginx", "-p", dir, "-e", dir+"/error.log", "-c", path)
}

func nginxL4(e *Env, dir string, rs []Route) (*Proc, error) {
	head, err := nginxHead(dir, e.Nofile, true)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(head)
	b.WriteString("stream {\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "  server { listen 127.0.0.1:%d; proxy_pass %s; }\n", r.Port, r.Upstream)
	}
	b.WriteString("}\n")
	return startNginx("nginx", e.CPU, dir, b.String())
}

func nginxHTTPHead(dir string) string {
	return fmt.Sprintf(`  access_log off;
  client_body_temp_path %s/body;
  proxy_temp_path %s/proxy;
`, dir, dir)
}

func nginxL7(e *Env, dir string, rs []Route) (*Proc, error) {
	head, err := nginxHead(dir, e.Nofile, false)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(head)
	b.WriteString("http {\n" + nginxHTTPHead(dir))
	for i, r := range rs {
		fmt.Fprintf(&b, `  upstream u%d { server %s; keepalive 64; }
  server {
    listen 127.0.0.1:%d;
    location / { proxy_pass http://u%d; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
`, i, r.Upstream, r.Port, i)
	}
	b.WriteString("}\n")
	return startNginx("nginx", e.CPU, dir, b.String())
}

// NginxOrigin starts the L7 upstream: nginx answering every request with the
// 5-byte body "hello", on port, pinned to cpu.
func NginxOrigin(e *Env, cpu, port int) (*Proc, error) { return NginxOrigins(e, cpu, []int{port}) }

// NginxOrigins is NginxOrigin listening on several ports: one process (one
// worker) behind them all, so that sending traffic to one port or spreading
// it over all of them leaves the origin side the same.
func NginxOrigins(e *Env, cpu int, ports []int) (*Proc, error) {
	dir, err := os.MkdirTemp(e.Dir, "origin-nginx-")
	if err != nil {
		return nil, err
	}
	head, err := nginxHead(dir, e.Nofile, false)
	if err != nil {
		return nil, err
	}
	conf := head + "http {\n" + nginxHTTPHead(dir) + "  keepalive_requests 1000000;\n"
	for _, port := range ports {
		conf += fmt.Sprintf("  server { listen 127.0.0.1:%d; location / { return 200 \"hello\"; } }\n", port)
	}
	conf += "}\n"
	p, err := startNginx("origin-nginx", cpu, dir, conf)
	if err != nil {
		return nil, err
	}
	if err := WaitReady(p, ports, 10*time.Second); err != nil {
		p.Stop(time.Second)
		return nil, err
	}
	return p, nil
}

// ---- haproxy ----

func haproxyGlobal(nofile uint64, mode string) string {
	// Two descriptors per proxied connection, and a few for listeners.
	maxconn := (nofile - 100) / 2
	return fmt.Sprintf(`global
  nbthread 1
  maxconn %d
defaults
  mode %s
  maxconn %d
  timeout connect 5s
  timeout client 300s
  timeout server 300s
`, maxconn, mode, maxconn)
}

func haproxyL4(e *Env, dir string, rs []Route) (*Proc, error) {
	var b strings.Builder
	b.WriteString(haproxyGlobal(e.Nofile, "tcp"))
	for i, r := range rs {
		fmt.Fprintf(&b, "listen p%d\n  bind 127.0.0.1:%d\n  server s0 %s\n", i, r.Port, r.Upstream)
	}
	return startHAProxy(e, dir, b.String())
}

func haproxyL7(e *Env, dir string, rs []Route) (*Proc, error) {
	var b strings.Builder
	b.WriteString(haproxyGlobal(e.Nofile, "http"))
	b.WriteString("  option http-keep-alive\n  timeout http-keep-alive 60s\n  timeout http-request 10s\n")
	for i, r := range rs {
		fmt.Fprintf(&b, "listen p%d\n  bind 127.0.0.1:%d\n  server s0 %s\n", i, r.Port, r.Upstream)
	}
	return startHAProxy(e, dir, b.String())
}

func startHAProxy(e *Env, dir, conf string) (*Proc, error) {
	path, err := write(dir, "haproxy.cfg", conf)
	if err != nil {
		return nil, err
	}
	return Start("haproxy", e.CPU, dir, nil, "haproxy", "-db", "-f", path)
}

// ---- caddy ----

func caddyL7(e *Env, dir string, rs []Route) (*Proc, error) {
	var b strings.Builder
	b.WriteString("{\n  admin off\n  auto_https off\n}\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "http://127.0.0.1:%d {\n  reverse_proxy %s\n}\n", r.Port, r.Upstream)
	}
	path, err := write(dir, "Caddyfile", b.String())
	if err != nil {
		return nil, err
	}
	env := []string{"GOMAXPROCS=1", "HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
	return Start("caddy", e.CPU, dir, env, "caddy", "run", "--config", path, "--adapter", "caddyfile")
}

// ---- the Go comparators, run by re-executing this program ----

func goProxy(role string) func(e *Env, dir string, rs []Route) (*Proc, error) {
	return func(e *Env, dir string, rs []Route) (*Proc, error) {
		return Start(role, e.CPU, dir, []string{"GOMAXPROCS=1"}, e.Self, "-role", role, "-routes", FormatRoutes(rs))
	}
}

// FormatRoutes renders routes as the -routes flag of the comparator roles:
// "PORT=HOST:PORT,…".
func FormatRoutes(rs []Route) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strconv.Itoa(r.Port) + "=" + r.Upstream
	}
	return strings.Join(parts, ",")
}

// ParseRoutes is the inverse of FormatRoutes.
func ParseRoutes(s string) ([]Route, error) {
	var rs []Route
	for _, part := range strings.Split(s, ",") {
		port, up, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("route %q: want PORT=HOST:PORT", part)
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", part, err)
		}
		rs = append(rs, Route{Port: n, Upstream: up})
	}
	return rs, nil
}

// FreePorts finds n distinct free TCP ports on 127.0.0.1. Ports handed out
// earlier by this process are never handed out again.
func FreePorts(n int) ([]int, error) {
	var ports []int
	for tries := 0; len(ports) < n && tries < 100*n; tries++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		usedMu.Lock()
		dup := used[p]
		used[p] = true
		usedMu.Unlock()
		if !dup {
			ports = append(ports, p)
		}
	}
	if len(ports) < n {
		return nil, errors.New("no free ports")
	}
	return ports, nil
}

// ---- the plugins suite ----

// BenchAPIKey is the key-auth key the plugins suite's consumer has and its
// load sends.
const BenchAPIKey = "bench-key-0123456789"

// PluginRowsDoc says what each row of the plugins suite runs.
const PluginRowsDoc = "sluice: no plugins; sluice+plugins: key-auth (a consumer with the key), limit-count " +
	"(count 1e9 per 60 s by remote_addr, so never rejecting) and prometheus on the route, metrics on their own listener; " +
	"nginx: no checks; nginx+limits: the API key checked by a map and `if`, and limit_req (rate 1e6 r/s, burst 1e6, nodelay) — " +
	"Debian's nginx has no Prometheus exporter, so it does less work than sluice+plugins"

// PluginCatalogue is the plugins suite's rows.
func PluginCatalogue() []*Proxy {
	return []*Proxy{
		{Name: "sluice", Check: checkSluice, StartL7: sluiceL7},
		{Name: "sluice+plugins", Check: checkSluice, StartL7: sluicePluginsL7},
		{Name: "nginx", Check: checkNginx, StartL7: nginxL7},
		{Name: "nginx+limits", Check: checkNginx, StartL7: nginxLimitsL7},
	}
}

func sluicePluginsL7(e *Env, dir string, rs []Route) (*Proc, error) {
	if len(rs) != 1 {
		return nil, errors.New("sluice l7: one route per instance")
	}
	free, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	cfg := strings.Replace(sluiceConfig(rs[0].Port, free[0], nil), "plugins: []\n", "plugins: [key-auth, limit-count, prometheus]\n", 1)
	cfg += fmt.Sprintf("plugin_attr:\n  prometheus:\n    export_addr: {ip: 127.0.0.1, port: %d}\n", free[1])
	routes := fmt.Sprintf(`consumers:
  - username: bench
    plugins: {key-auth: {key: %q}}
routes:
  - id: x
    uri: "/*"
    upstream: %s
    plugins:
      key-auth: {}
      limit-count: {count: 1000000000, time_window: 60, key: remote_addr, rejected_code: 503}
      prometheus: {}
`, BenchAPIKey, upstreamYAML(rs[0].Upstream))
	return startSluice(e, dir, cfg, routes)
}

func nginxLimitsL7(e *Env, dir string, rs []Route) (*Proc, error) {
	if len(rs) != 1 {
		return nil, errors.New("nginx+limits: one route per instance")
	}
	head, err := nginxHead(dir, e.Nofile, false)
	if err != nil {
		return nil, err
	}
	conf := head + "http {\n" + nginxHTTPHead(dir) + fmt.Sprintf(`  map $http_apikey $key_ok { default 0; %q 1; }
  limit_req_zone $binary_remote_addr zone=bench:10m rate=1000000r/s;
  upstream u0 { server %s; keepalive 64; }
  server {
    listen 127.0.0.1:%d;
    location / {
      if ($key_ok = 0) { return 401; }
      limit_req zone=bench burst=1000000 nodelay;
      proxy_pass http://u0; proxy_http_version 1.1; proxy_set_header Connection "";
    }
  }
}
`, BenchAPIKey, rs[0].Upstream, rs[0].Port)
	return startNginx("nginx", e.CPU, dir, conf)
}
