// Command healthkill runs wrk through sluice (L7) to several upstream
// servers, kills one of them with SIGKILL part-way, and reports the
// non-2xx answers and socket errors wrk saw across the kill, and how long
// sluice took to mark the dead node unhealthy (polled on the admin
// listener's GET /v1/healthcheck every 5 ms). It is issue 8's "done when":
// with retries ≥ 1, a killed node costs no failed GET.
//
//	make build && cd bench && go run ./cmd/healthkill -sluice ../bin/sluice
//	go run ./cmd/healthkill -interval 1 -duration 20s -kill-at 5s -retries 0
//
// Everything listens on 127.0.0.1. The upstreams are this program run again
// with -role origin, one process per node, so the kill is a real process
// dying (the kernel resets its connections).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-gateway/sluice/bench/peers"
)

type options struct {
	sluice   string
	nodes    int
	duration time.Duration
	killAt   time.Duration
	interval float64
	retries  int
	conns    int
	threads  int
	keep     bool
}

func main() {
	var o options
	role := flag.String("role", "", "internal: origin")
	addr := flag.String("addr", "", "internal: the origin's address")
	flag.StringVar(&o.sluice, "sluice", "../bin/sluice", "the sluice binary (make build)")
	flag.IntVar(&o.nodes, "nodes", 3, "upstream servers (one is killed)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "wrk run length")
	flag.DurationVar(&o.killAt, "kill-at", 3*time.Second, "when, into the run, the node is killed")
	flag.Float64Var(&o.interval, "interval", 0.5, "active check interval in seconds (healthy and unhealthy)")
	flag.IntVar(&o.retries, "retries", 1, "the upstream's retries")
	flag.IntVar(&o.conns, "c", 50, "wrk connections")
	flag.IntVar(&o.threads, "t", 2, "wrk threads")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (configs and logs)")
	flag.Parse()
	if *role == "origin" {
		origin(*addr)
		return
	}
	if err := run(o); err != nil {
		peers.KillAll()
		fmt.Fprintln(os.Stderr, "healthkill:", err)
		os.Exit(1)
	}
	peers.KillAll()
}

// origin answers every request with 200 "ok".
func origin(addr string) {
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(o options) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (scripts/install-peers.sh installs it)")
	}
	sluice, err := filepath.Abs(o.sluice)
	if err != nil {
		return err
	}
	if _, err := os.Stat(sluice); err != nil {
		return fmt.Errorf("%s: %v (make build)", sluice, err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "healthkill-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "temp dir:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		peers.KillAll()
		os.Exit(130)
	}()

	ports, err := peers.FreePorts(o.nodes + 2)
	if err != nil {
		return err
	}
	httpPort, adminPort := ports[0], ports[1]
	var origins []*peers.Proc
	var nodes []string
	for i := range o.nodes {
		a := "127.0.0.1:" + strconv.Itoa(ports[2+i])
		p, err := peers.Start(fmt.Sprintf("origin%d", i), peers.AnyCPU, dir, nil, self, "-role", "origin", "-addr", a)
		if err != nil {
			return err
		}
		if err := peers.WaitReady(p, []int{ports[2+i]}, 10*time.Second); err != nil {
			return fmt.Errorf("origin %s: %v", a, err)
		}
		origins = append(origins, p)
		nodes = append(nodes, fmt.Sprintf("%q: 1", a))
	}
	config := fmt.Sprintf(`listen: {http: ["127.0.0.1:%d"]}
admin: {listen: "127.0.0.1:%d", keys: [{name: admin, key: bench-only-key, role: admin}]}
config: {provider: yaml, yaml_path: routes.yaml}
log: {level: warn}
`, httpPort, adminPort)
	routes := fmt.Sprintf(`upstreams:
  - id: web
    retries: %d
    nodes: {%s}
    checks:
      active:
        healthy: {interval: %g}
        unhealthy: {interval: %g}
routes:
  - {id: all, uri: "/*", upstream_id: web}
`, o.retries, strings.Join(nodes, ", "), o.interval, o.interval)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(routes), 0o644); err != nil {
		return err
	}
	sp, err := peers.Start("sluice", peers.AnyCPU, dir, nil, sluice, "run", "-c", cfgPath)
	if err != nil {
		return err
	}
	if err := peers.WaitReady(sp, []int{httpPort, adminPort}, 10*time.Second); err != nil {
		return fmt.Errorf("sluice: %v", err)
	}
	victim := "127.0.0.1:" + strconv.Itoa(ports[2+o.nodes-1])
	status := func() string { return nodeStatus(adminPort, victim) }
	if s := status(); s != "healthy" {
		return fmt.Errorf("before the run, the node to kill is %q", s)
	}

	url := fmt.Sprintf("http://127.0.0.1:%d/", httpPort)
	argv := []string{"wrk", "-t", strconv.Itoa(o.threads), "-c", strconv.Itoa(o.conns), "-d", o.duration.String(), "--latency", url}
	fmt.Fprintf(os.Stderr, "%s\n(upstream: %d nodes, retries %d, checks.active interval %gs; node %s killed at %v)\n",
		strings.Join(argv, " "), o.nodes, o.retries, o.interval, victim, o.killAt)
	ctx, cancel := context.WithTimeout(context.Background(), o.duration+30*time.Second)
	defer cancel()
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := peers.Run(ctx, -1, o.duration+30*time.Second, argv...)
		done <- result{out, err}
	}()
	time.Sleep(o.killAt)
	victimProc := origins[len(origins)-1]
	killed := time.Now()
	syscall.Kill(-victimProc.Pid(), syscall.SIGKILL)
	ejected := time.Duration(-1)
	for time.Since(killed) < o.duration {
		if s := status(); s == "unhealthy" || s == "mostly_unhealthy" {
			ejected = time.Since(killed)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := <-done
	if r.err != nil {
		return fmt.Errorf("wrk: %v\n%s", r.err, r.out)
	}
	os.Stdout.Write(r.out)
	w, err := peers.ParseWrk(r.out)
	if err != nil {
		return err
	}
	fmt.Printf("\nrequests %d, non-2xx %d, socket errors %d\n", w.Requests, w.Non2xx, w.Errors)
	if ejected < 0 {
		fmt.Printf("killed node never marked unhealthy within %v\n", o.duration)
	} else {
		fmt.Printf("time to ejection: %v (interval %gs, tcp_failures 2: at most 2 intervals plus a probe)\n", ejected.Round(time.Millisecond), o.interval)
	}
	if w.Non2xx != 0 || w.Errors != 0 {
		return fmt.Errorf("%d non-2xx answers and %d socket errors across the kill", w.Non2xx, w.Errors)
	}
	return nil
}

// nodeStatus reads the node's status from GET /v1/healthcheck/upstreams/web.
func nodeStatus(adminPort int, node string) string {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/v1/healthcheck/upstreams/web", adminPort))
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	var v struct {
		Nodes []struct {
			IP     string `json:"ip"`
			Port   int    `json:"port"`
			Status string `json:"status"`
		} `json:"nodes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return "error: " + err.Error()
	}
	for _, n := range v.Nodes {
		if net.JoinHostPort(n.IP, strconv.Itoa(n.Port)) == node {
			return n.Status
		}
	}
	return "absent"
}
