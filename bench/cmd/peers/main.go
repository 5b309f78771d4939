// Command peers runs sluice side by side with nginx, HAProxy, Caddy and two
// Go comparators (a gnet-engine proxy and a standard-library io.Copy proxy),
// each pinned to one CPU while the load tools and upstreams run on the other,
// and prints Markdown tables of medians, ranges and ratios. `make bench-peers`
// runs it; bench/README.md explains the rows and the layout.
//
//	go run ./cmd/peers -sluice ../bin/sluice                # everything, 3 rounds
//	go run ./cmd/peers -sluice ../bin/sluice -quick         # smoke run, about 2 minutes
//	go run ./cmd/peers -suite l4 -proxies nginx,haproxy     # a subset
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-gateway/sluice/bench/peers"
)

type options struct {
	sluice     string
	suites     map[string]bool
	only       map[string]bool // proxies to run; empty = all
	rounds     int
	proxyCPU   int
	loadCPU    int
	upCPU      int
	iperfTime  time.Duration
	redisN     int
	wrkTime    time.Duration
	idleConns  int
	idleHTTP   int
	floodTime  time.Duration
	keep       bool
	waitQuiet  time.Duration
	retries    int
	noiseLimit float64
}

func main() {
	var (
		o                   options
		suite, only         string
		quick               bool
		role, routes, ups   string
		iperfTime, wrkTime  time.Duration
		floodTime           time.Duration
		redisN, idle, round int
	)
	flag.StringVar(&o.sluice, "sluice", "../bin/sluice", "path of the sluice binary (make build)")
	flag.StringVar(&suite, "suite", "l4,mem,l7", "suites to run: l4 (iperf3, redis-benchmark), mem (idle connections, flood), l7 (wrk), plugins (wrk with and without key-auth + limit-count + prometheus)")
	flag.StringVar(&only, "proxies", "", "comma-separated proxies to run (default all): sluice,nginx,haproxy,caddy,gnet,std")
	flag.IntVar(&round, "rounds", 3, "rounds; each round runs every proxy once per benchmark, in turn")
	flag.BoolVar(&quick, "quick", false, "smoke run: 1 round, short runs, 1,000 idle connections")
	flag.IntVar(&o.proxyCPU, "proxy-cpu", 1, "CPU the proxy under test is pinned to")
	flag.IntVar(&o.loadCPU, "load-cpu", 0, "CPU the load tools, upstreams and this driver are pinned to")
	flag.IntVar(&o.upCPU, "upstream-cpu", 0, "CPU the upstreams (redis, iperf3 -s, origins) are pinned to; -1: any CPU")
	flag.DurationVar(&iperfTime, "iperf-time", 5*time.Second, "iperf3 duration per run")
	flag.IntVar(&redisN, "redis-n", 200000, "redis-benchmark requests per run at -P 1 (5× that at -P 16)")
	flag.DurationVar(&wrkTime, "wrk-time", 10*time.Second, "wrk duration per run at -c50 (half that at -c1)")
	flag.IntVar(&idle, "idle-conns", 9900, "idle proxied connections for the memory test (bounded by RLIMIT_NOFILE/2)")
	flag.IntVar(&o.idleHTTP, "idle-http", 9900, "idle keep-alive HTTP connections for the L7 memory test (haproxy caps at (RLIMIT_NOFILE-100)/2 here)")
	flag.DurationVar(&floodTime, "flood-time", 5*time.Second, "how long the flood client does not read")
	flag.DurationVar(&o.waitQuiet, "wait-quiet", 0, "before starting, wait up to this long for the machine's CPUs to be under 15% busy with other work")
	flag.IntVar(&o.retries, "retries", 2, "extra attempts for a run that failed or during which other work used more than -noise of the CPUs")
	flag.Float64Var(&o.noiseLimit, "noise", 0, "repeat a run when other work used more than this share of the machine's CPUs during it (0: never; the share is logged either way)")
	flag.IntVar(&peers.Nice, "nice", -19, "niceness of every child (proxies, upstreams, load tools); 0 to leave it alone")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (configs and logs) and print its path")
	flag.StringVar(&role, "role", "", "internal: run as gnetproxy, stdproxy or upstreams")
	flag.StringVar(&routes, "routes", "", "internal: PORT=HOST:PORT,… for the proxy roles")
	flag.StringVar(&ups, "upstreams", "", "internal: hold=P,flood=P,http=P,ctrl=P for the upstreams role")
	flag.Parse()

	if role != "" {
		os.Exit(runRole(role, routes, ups))
	}
	if quick {
		round, iperfTime, redisN, wrkTime, idle, floodTime = 1, time.Second, 20000, 2*time.Second, 1000, 2*time.Second
		o.idleHTTP = 1000
	}
	o.rounds, o.iperfTime, o.redisN, o.wrkTime, o.idleConns, o.floodTime = round, iperfTime, redisN, wrkTime, idle, floodTime
	o.suites = set(suite)
	o.only = set(only)
	pinSelf(o.loadCPU)
	os.Exit(run(o))
}

func set(csv string) map[string]bool {
	m := map[string]bool{}
	for _, s := range strings.Split(csv, ",") {
		if s = strings.TrimSpace(s); s != "" {
			m[s] = true
		}
	}
	return m
}

func runRole(role, routes, ups string) int {
	var err error
	switch role {
	case "gnetproxy", "stdproxy":
		var rs []peers.Route
		if rs, err = peers.ParseRoutes(routes); err == nil {
			if role == "gnetproxy" {
				err = peers.RunGnetProxy(rs)
			} else {
				err = peers.RunStdProxy(rs)
			}
		}
	case "upstreams":
		var u peers.Upstreams
		if u, err = peers.ParseUpstreams(ups); err == nil {
			err = peers.RunUpstreams(u)
		}
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	fmt.Fprintln(os.Stderr, role+":", err)
	return 1
}

// pinSelf re-executes the driver under taskset on the load CPU, so that
// nothing of the harness but the proxy under test runs on the proxy's CPU.
// Children inherit the pinning unless started with their own.
func pinSelf(cpu int) {
	if os.Getenv("SLUICE_PEERS_PINNED") != "" || onlineCPUs() < 2 || !peers.HaveTaskset() {
		return
	}
	self, err := os.Executable()
	if err != nil {
		return
	}
	ts, err := exec.LookPath("taskset")
	if err != nil {
		return
	}
	argv := append([]string{"taskset", "-c", fmt.Sprint(cpu), self}, os.Args[1:]...)
	env := append(os.Environ(), "SLUICE_PEERS_PINNED=1")
	err = syscall.Exec(ts, argv, env)
	fmt.Fprintln(os.Stderr, "peers: could not pin the driver:", err)
}

func run(o options) int {
	if err := peers.RaiseAutogroup(); err != nil {
		fmt.Fprintln(os.Stderr, "peers: raising the scheduler autogroup's priority:", err)
	}
	nofile, err := peers.RaiseNofile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers: raising RLIMIT_NOFILE:", err)
	}
	dir, err := os.MkdirTemp("", "sluice-peers-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		return 1
	}
	cleanup := func() {
		peers.KillAll()
		if o.keep {
			fmt.Fprintln(os.Stderr, "peers: configs and logs kept in", dir)
		} else {
			os.RemoveAll(dir)
		}
	}
	defer cleanup()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigc
		fmt.Fprintln(os.Stderr, "\npeers: interrupted; stopping every child")
		cancel()
		cleanup()
		os.Exit(130)
	}()

	self, _ := os.Executable()
	sluicePath := o.sluice
	if sluicePath != "" {
		if abs, err := filepath.Abs(sluicePath); err == nil {
			sluicePath = abs
		}
	}
	// One build for the whole run, whatever `make build` does meanwhile.
	if b, err := os.ReadFile(sluicePath); err == nil {
		snap := filepath.Join(dir, "sluice")
		if os.WriteFile(snap, b, 0o755) == nil {
			sluicePath = snap
		}
	}
	env := &peers.Env{Dir: dir, CPU: o.proxyCPU, Self: self, Sluice: sluicePath, Nofile: nofile}
	if o.upCPU < 0 {
		o.upCPU = peers.AnyCPU
	}
	if onlineCPUs() < 2 {
		env.CPU, o.loadCPU, o.upCPU = -1, -1, -1
	}
	h := &harness{o: o, env: env, ctx: ctx}
	h.header()
	if o.waitQuiet > 0 {
		h.waitQuiet(o.waitQuiet)
	}
	for _, s := range []struct {
		name string
		run  func()
	}{{"l4", h.l4}, {"mem", h.mem}, {"l7", h.l7}, {"plugins", h.plugins}} {
		if o.suites[s.name] && ctx.Err() == nil {
			start := time.Now()
			s.run()
			fmt.Printf("\n(%s suite: %v; load average at its end: %s — this harness alone keeps it near 2)\n",
				s.name, time.Since(start).Round(time.Second), loadavg())
		}
	}
	return 0
}

type harness struct {
	o   options
	env *peers.Env
	ctx context.Context
	// cat is the proxies of the suite running (nil: peers.Catalogue).
	cat []*peers.Proxy
}

func (h *harness) catalogue() []*peers.Proxy {
	if h.cat != nil {
		return h.cat
	}
	return peers.Catalogue()
}

// logf reports progress on stderr; the tables go to stdout.
func (h *harness) logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "[%s] "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

// proxies returns the catalogue entries that run here (filtered by -proxies)
// and, for the rest, why not.
func (h *harness) proxies(l7 bool) (ok []*peers.Proxy, skipped map[string]string) {
	skipped = map[string]string{}
	for _, px := range h.catalogue() {
		if len(h.o.only) > 0 && !h.o.only[px.Name] {
			continue
		}
		if (l7 && px.StartL7 == nil) || (!l7 && px.StartL4 == nil) {
			continue
		}
		if err := px.Check(h.env); err != nil {
			skipped[px.Name] = "skipped: " + err.Error()
			if strings.HasPrefix(err.Error(), "failed to start") {
				skipped[px.Name] = err.Error()
			}
			continue
		}
		ok = append(ok, px)
	}
	return ok, skipped
}

func (h *harness) header() {
	fmt.Printf("# sluice peer comparison, %s\n\n", time.Now().Format("2006-01-02 15:04"))
	cpuModel := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, cpuModel, _ = strings.Cut(l, ": ")
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Printf("- machine: %d CPUs (%s), Linux %s, %s\n", onlineCPUs(), cpuModel, strings.TrimSpace(string(kernel)), runtime.Version())
	if h.env.CPU < 0 {
		fmt.Println("- layout: one CPU only, nothing pinned (figures are not comparable to a 2-CPU run)")
	} else {
		up := fmt.Sprintf("pinned to CPU %d", h.o.upCPU)
		if h.o.upCPU == peers.AnyCPU {
			up = "on any CPU"
		}
		fmt.Printf("- layout: proxy under test pinned to CPU %d; load tools and this driver pinned to CPU %d; upstreams %s\n", h.env.CPU, h.o.loadCPU, up)
	}
	if !peers.HaveTaskset() {
		fmt.Println("- taskset not found: nothing is pinned")
	}
	fmt.Printf("- rounds: %d, interleaved (each round runs every row once per benchmark, in turn, starting one row later each round); median [min–max]\n", h.o.rounds)
	fmt.Printf("- RLIMIT_NOFILE: %d; every child runs at niceness %d\n", h.env.Nofile, peers.Nice)
	fmt.Printf("- load average at start: %s (anything above 0 is other work on the machine; it makes the absolute figures noisy)\n", loadavg())
	for _, v := range [][]string{
		{"nginx", "-v"}, {"haproxy", "-v"}, {"caddy", "version"}, {"iperf3", "-v"},
		{"redis-server", "-v"}, {"wrk", "-v"},
	} {
		fmt.Printf("- %s: %s\n", v[0], version(v...))
	}
	if fi, err := os.Stat(h.o.sluice); err == nil {
		ver, _ := peers.Run(h.ctx, -1, 5*time.Second, h.env.Sluice, "version")
		fmt.Printf("- sluice: %s, %s (built %s)\n", h.o.sluice, strings.TrimSpace(string(ver)), fi.ModTime().Format("2006-01-02 15:04"))
	} else {
		fmt.Printf("- sluice: %s not found (make build)\n", h.o.sluice)
	}
}

func version(argv ...string) string {
	if _, err := exec.LookPath(argv[0]); err != nil {
		return "not installed"
	}
	out, _ := peers.Run(context.Background(), -1, 5*time.Second, "sh", "-c", strings.Join(argv, " ")+" 2>&1")
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}

// onlineCPUs counts the machine's CPUs; runtime.NumCPU only counts those
// this process may run on, which is one once the driver is pinned.
func onlineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for _, part := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		z := a
		var err2 error
		if isRange {
			z, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil {
			return runtime.NumCPU()
		}
		n += z - a + 1
	}
	return n
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
	return strings.Join(f[:3], " ")
}

// cpuBusy is the fraction of all CPUs' time spent busy over d, from
// /proc/stat.
func cpuBusy(d time.Duration) float64 {
	read := func() (busy, total float64) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0
		}
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		for i, x := range f[1:] {
			v, _ := strconv.ParseFloat(x, 64)
			total += v
			if i != 3 && i != 4 { // idle, iowait
				busy += v
			}
		}
		return busy, total
	}
	b0, t0 := read()
	time.Sleep(d)
	b1, t1 := read()
	if t1 <= t0 {
		return 0
	}
	return (b1 - b0) / (t1 - t0)
}

func (h *harness) waitQuiet(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for h.ctx.Err() == nil {
		busy := cpuBusy(2 * time.Second)
		if busy < 0.15 {
			h.logf("machine quiet (%.0f%% busy); starting", busy*100)
			return
		}
		if time.Now().After(deadline) {
			h.logf("machine still %.0f%% busy after waiting %v; starting anyway", busy*100, limit)
			fmt.Printf("- started on a busy machine: %.0f%% of CPU time in use by other work\n", busy*100)
			return
		}
		h.logf("machine %.0f%% busy with other work; waiting", busy*100)
		time.Sleep(3 * time.Second)
	}
}

// measure runs fn, and runs it again (up to h.o.retries more times) when it
// failed or when other work on the machine took more than h.o.noiseLimit of
// the CPUs meanwhile. It returns the quietest successful attempt and the
// share of the CPUs other work used during it.
func measure[T any](h *harness, fn func() (T, error)) (T, float64, error) {
	var (
		best      T
		bestShare = 2.0
		ok        bool
		lastErr   error
	)
	for try := 0; try <= h.o.retries && h.ctx.Err() == nil; try++ {
		n := peers.StartNoise()
		v, err := fn()
		share := n.Share(onlineCPUs())
		if err != nil {
			lastErr = err
			time.Sleep(time.Second)
			continue
		}
		if share < bestShare {
			best, bestShare, ok = v, share, true
		}
		if h.o.noiseLimit <= 0 || share <= h.o.noiseLimit {
			break
		}
		if try < h.o.retries {
			h.logf("  other work took %.0f%% of the CPUs during that run; once more", share*100)
		}
	}
	if !ok {
		return best, 0, lastErr
	}
	return best, bestShare, nil
}

// noisy counts, per metric and row, the samples taken while other work used
// more than the noise limit, and notes them in the results.
type noisy map[string]int

func (h *harness) noted(nz noisy, res *peers.Results, share float64, row string, metrics ...string) {
	if h.o.noiseLimit <= 0 || share <= h.o.noiseLimit {
		return
	}
	for _, m := range metrics {
		nz[m+"\x00"+row]++
		res.Note(m, row, fmt.Sprintf("%d sample(s) with other work on >%.0f%% of the CPUs", nz[m+"\x00"+row], h.o.noiseLimit*100))
	}
}
