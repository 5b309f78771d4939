// Command nodes measures what spreading HTTP traffic over several upstream
// nodes costs sluice: wrk through one sluice whose route has 1 node and
// through another whose route has 4 (roundrobin), both pinned to the same
// CPU, in alternating runs of one session, and prints req/s, latency and
// the proxy's CPU time per request for each, with the 4-node/1-node ratios
// (issue 8: "L7 req/s through 4 nodes vs 1").
//
// The origin is one process listening on 4 ports — nginx with one worker (a
// 5-byte body), or, without nginx, this program run again as a Go origin
// (2 bytes) — pinned with wrk to the other CPU: the 1-node run sends
// everything to the first port, so the origin side is the same process
// either way and the ratio is the proxy's.
//
//	make build && cd bench && go run ./cmd/nodes -sluice ../bin/sluice
//	go run ./cmd/nodes -sluice ../bin/sluice -rounds 5 -d 10s -c 50
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-gateway/sluice/bench/peers"
)

type options struct {
	sluice           string
	nodes            int
	rounds           int
	duration         time.Duration
	conns, threads   int
	proxyCPU, loadCP int
	origin           string
	keep             bool
}

func main() {
	var o options
	role := flag.String("role", "", "internal: origin")
	addr := flag.String("addr", "", "internal: the origin's address")
	flag.StringVar(&o.sluice, "sluice", "../bin/sluice", "the sluice binary (make build)")
	flag.IntVar(&o.nodes, "nodes", 4, "nodes of the many-node upstream")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each runs wrk once through each sluice, in alternating order")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "wrk duration per run")
	flag.IntVar(&o.conns, "c", 50, "wrk connections")
	flag.IntVar(&o.threads, "t", 1, "wrk threads")
	flag.IntVar(&o.proxyCPU, "proxy-cpu", 1, "CPU both sluice processes are pinned to (-1: none)")
	flag.IntVar(&o.loadCP, "load-cpu", 0, "CPU wrk and the origins are pinned to (-1: none)")
	flag.StringVar(&o.origin, "origin", "auto", "nginx, go, or auto (nginx when installed)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (configs and logs)")
	flag.Parse()
	if *role == "origin" {
		origin(strings.Split(*addr, ","))
	}
	err := run(o)
	peers.KillAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodes:", err)
		os.Exit(1)
	}
}

// origin is one process answering 200 "ok" on every address.
func origin(addrs []string) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	errc := make(chan error, len(addrs))
	for _, a := range addrs {
		go func() { errc <- (&http.Server{Addr: a, Handler: h}).ListenAndServe() }()
	}
	fmt.Fprintln(os.Stderr, <-errc)
	os.Exit(1)
}

type target struct {
	name string
	port int
	proc *peers.Proc
	runs []sample
}

type sample struct {
	w   peers.Wrk
	cpu float64 // proxy CPU ns per request
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
	nofile, _ := peers.RaiseNofile()
	dir, err := os.MkdirTemp("", "sluice-nodes-")
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
	if o.origin == "auto" {
		o.origin = "go"
		if _, err := exec.LookPath("nginx"); err == nil {
			o.origin = "nginx"
		}
	}

	ports, err := peers.FreePorts(o.nodes + 2)
	if err != nil {
		return err
	}
	env := &peers.Env{Dir: dir, CPU: o.proxyCPU, Self: self, Sluice: sluice, Nofile: nofile}
	var nodes []string
	for _, port := range ports[2:] {
		nodes = append(nodes, fmt.Sprintf("\"127.0.0.1:%d\": 1", port))
	}
	switch o.origin {
	case "nginx":
		if _, err := peers.NginxOrigins(env, o.loadCP, ports[2:]); err != nil {
			return fmt.Errorf("nginx origin: %v", err)
		}
	default:
		var addrs []string
		for _, port := range ports[2:] {
			addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(port))
		}
		p, err := peers.Start("origin", o.loadCP, dir, []string{"GOMAXPROCS=1"}, self, "-role", "origin", "-addr", strings.Join(addrs, ","))
		if err != nil {
			return err
		}
		if err := peers.WaitReady(p, ports[2:], 10*time.Second); err != nil {
			return fmt.Errorf("origin: %v", err)
		}
	}
	one := &target{name: "1 node", port: ports[0]}
	many := &target{name: fmt.Sprintf("%d nodes", o.nodes), port: ports[1]}
	for _, t := range []struct {
		t     *target
		nodes []string
	}{{one, nodes[:1]}, {many, nodes}} {
		sub := filepath.Join(dir, strings.ReplaceAll(t.t.name, " ", "-"))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		config := fmt.Sprintf("listen: {http: [\"127.0.0.1:%d\"]}\nadmin: {listen: \"\"}\nworkers: 1\nconfig: {provider: yaml, yaml_path: routes.yaml}\nplugins: []\nlog: {level: warn}\n", t.t.port)
		routes := fmt.Sprintf("routes:\n  - {id: all, uri: \"/*\", upstream: {type: roundrobin, nodes: {%s}}}\n", strings.Join(t.nodes, ", "))
		cfg := filepath.Join(sub, "config.yaml")
		if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(sub, "routes.yaml"), []byte(routes), 0o644); err != nil {
			return err
		}
		p, err := peers.Start("sluice-"+strings.ReplaceAll(t.t.name, " ", "-"), o.proxyCPU, sub, []string{"GOMAXPROCS=1"}, sluice, "run", "-c", cfg)
		if err != nil {
			return err
		}
		if err := peers.WaitReady(p, []int{t.t.port}, 10*time.Second); err != nil {
			return fmt.Errorf("sluice (%s): %v", t.t.name, err)
		}
		t.t.proc = p
	}

	fmt.Printf("# L7 through %d nodes vs 1\n\n", o.nodes)
	fmt.Printf("load before: %s\n", loadavg())
	fmt.Printf("wrk -t%d -c%d -d%v --latency, %d rounds (alternating order); origin: one %s process on %d ports, CPU %d; each sluice 1 worker on CPU %d\n\n",
		o.threads, o.conns, o.duration, o.rounds, o.origin, o.nodes, o.loadCP, o.proxyCPU)
	ctx := context.Background()
	wrk := func(t *target, d time.Duration) (sample, error) {
		cpu0 := t.proc.CPUTime()
		secs := max(1, int(d.Round(time.Second)/time.Second))
		out, err := peers.Run(ctx, o.loadCP, time.Duration(secs)*time.Second+30*time.Second, "wrk",
			"-t"+strconv.Itoa(o.threads), "-c"+strconv.Itoa(o.conns), "-d"+strconv.Itoa(secs)+"s", "--latency",
			"http://127.0.0.1:"+strconv.Itoa(t.port)+"/")
		if err != nil {
			return sample{}, err
		}
		w, err := peers.ParseWrk(out)
		if err != nil || w.Requests == 0 {
			return sample{w: w}, fmt.Errorf("wrk: %v", err)
		}
		return sample{w: w, cpu: float64(t.proc.CPUTime()-cpu0) / float64(w.Requests)}, nil
	}
	for _, t := range []*target{one, many} { // warm-up: pools filled, pages touched
		if _, err := wrk(t, 2*time.Second); err != nil {
			return fmt.Errorf("warm-up %s: %v", t.name, err)
		}
	}
	fmt.Println("| round | upstream | req/s | p50 ms | p99 ms | proxy CPU µs/req | non-2xx | socket errors |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- |")
	for r := range o.rounds {
		order := []*target{one, many}
		if r%2 == 1 {
			order[0], order[1] = many, one
		}
		for _, t := range order {
			s, err := wrk(t, o.duration)
			if err != nil {
				return fmt.Errorf("round %d, %s: %v", r+1, t.name, err)
			}
			t.runs = append(t.runs, s)
			fmt.Printf("| %d | %s | %.0f | %.2f | %.2f | %.1f | %d | %d |\n", r+1, t.name, s.w.RPS,
				ms(s.w.P50), ms(s.w.P99), s.cpu/1e3, s.w.Non2xx, s.w.Errors)
		}
	}
	fmt.Printf("\nload after: %s\n\n", loadavg())
	fmt.Println("| median | 1 node | " + many.name + " | ratio |")
	fmt.Println("| --- | --- | --- | --- |")
	row := func(name string, f func(sample) float64, format string) {
		a, b := median(one.runs, f), median(many.runs, f)
		fmt.Printf("| %s | "+format+" | "+format+" | %.3f |\n", name, a, b, b/a)
	}
	row("req/s", func(s sample) float64 { return s.w.RPS }, "%.0f")
	row("p50 ms", func(s sample) float64 { return ms(s.w.P50) }, "%.2f")
	row("p99 ms", func(s sample) float64 { return ms(s.w.P99) }, "%.2f")
	row("proxy CPU µs/req", func(s sample) float64 { return s.cpu / 1e3 }, "%.2f")
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func median(runs []sample, f func(sample) float64) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ") + " (1, 5, 15 min)"
}
