// Command configplane measures sluice's config plane on one node with the
// embedded etcd, as a user sees it: through the Admin API and real requests
// to the data plane, never by asking sluice what it thinks.
//
//   - prop: Admin PUT of a new HTTP route → the first request the new route
//     serves, and the same for stream routes (p50/p99 over -n changes), with
//     etcd's own WAL fsync and backend commit times over the same interval
//     (from its /metrics), so a tail can be put where it belongs;
//
//   - burst: -burst HTTP routes written through the Admin API by -writers
//     concurrent clients → every one of them serving;
//
//   - churn: wrk on routes that do not change, with and without -rate route
//     changes per second on other routes, interleaved: errors and p99;
//
//   - bulk: -bulk routes in etcd → time until all serve (written through the
//     Admin API, then again from a cold start that reads them all at once),
//     and the process's RSS (embedded etcd included).
//
//     go run ./cmd/configplane -sluice ../bin/sluice
//     go run ./cmd/configplane -sluice ../bin/sluice -tmp /dev/shm      # etcd data in memory: no fsync cost
//     go run ./cmd/configplane -sluice ../bin/sluice -phases churn -pin  # sluice on CPU 0, wrk on CPU 1
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluice-gateway/sluice/bench/peers"
)

const key = "bench-admin-key-0123456789"

// retries counts Admin API writes answered 503 and sent again.
var retries atomic.Int64

type options struct {
	bin, tmp, phases, extra string
	profile                 string
	n, burst, bulk, writers int
	rate, conns, rounds     int
	steady                  int
	churnTime               time.Duration
	pin                     bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "sluice", "../bin/sluice", "sluice binary (make build)")
	flag.StringVar(&o.tmp, "tmp", "", "where the node's directory (and so etcd's data) goes; default $TMPDIR. Try /dev/shm to leave the disk's fsync out")
	flag.StringVar(&o.phases, "phases", "prop,burst,churn,bulk", "which measurements to run")
	flag.StringVar(&o.extra, "etcd", "", "extra keys for config.yaml's etcd section, e.g. 'unsafe_no_fsync: true'")
	flag.IntVar(&o.n, "n", 300, "propagation samples per route kind")
	flag.IntVar(&o.burst, "burst", 1000, "routes in the write burst")
	flag.IntVar(&o.bulk, "bulk", 10000, "routes in the bulk load")
	flag.IntVar(&o.writers, "writers", 32, "concurrent Admin API writers for burst and bulk")
	flag.IntVar(&o.rate, "rate", 100, "route changes per second during churn")
	flag.IntVar(&o.conns, "conns", 50, "wrk connections during churn")
	flag.IntVar(&o.rounds, "rounds", 2, "churn rounds (each: wrk alone, then wrk with changes)")
	flag.IntVar(&o.steady, "steady", 100, "routes that never change during churn (the table's size)")
	flag.DurationVar(&o.churnTime, "churn-time", 12*time.Second, "length of each wrk run")
	flag.BoolVar(&o.pin, "pin", false, "pin sluice to CPU 0 and wrk to CPU 1 (taskset)")
	flag.StringVar(&o.profile, "profile", "", "directory for a CPU profile, a 1 s execution trace and allocation profiles of sluice from each churn round (runs sluice with -pprof)")
	flag.IntVar(&peers.Nice, "nice", -19, "niceness of sluice, wrk and this driver's session (shared machines); 0 to leave it alone")
	flag.Parse()
	if err := peers.RaiseAutogroup(); err != nil {
		fmt.Fprintln(os.Stderr, "configplane: autogroup niceness:", err)
	}
	if err := run(&o); err != nil {
		fmt.Fprintln(os.Stderr, "configplane:", err)
		os.Exit(1)
	}
}

func freePort() int {
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1)); err == nil {
			l2.Close()
			return p
		}
	}
}

// tagUpstream answers every connection with its tag and closes.
func tagUpstream(tag string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(tag))
			c.Close()
		}
	}()
	return ln.Addr().String()
}

type node struct {
	dir                               string
	cfg                               string
	httpPort, stream, adminPort, etcd int
	pprofPort                         int
	cmd                               *exec.Cmd
	log                               *bytes.Buffer
	mu                                sync.Mutex
	pin                               bool
	probeMu                           sync.Mutex
	probeConn                         net.Conn
	probeRd                           *bufio.Reader
}

func (nd *node) start(bin string) (time.Time, error) {
	nd.log = &bytes.Buffer{}
	argv := []string{bin, "run", "-c", nd.cfg}
	if nd.pprofPort != 0 {
		argv = append(argv, "-pprof", fmt.Sprintf("127.0.0.1:%d", nd.pprofPort))
	}
	if nd.pin {
		argv = append([]string{"taskset", "-c", "0"}, argv...)
	}
	if peers.Nice != 0 {
		argv = append([]string{"nice", "-n", strconv.Itoa(peers.Nice)}, argv...)
	}
	nd.cmd = exec.Command(argv[0], argv[1:]...)
	nd.cmd.Stdout, nd.cmd.Stderr = lockedWriter{&nd.mu, nd.log}, lockedWriter{&nd.mu, nd.log}
	t0 := time.Now()
	if err := nd.cmd.Start(); err != nil {
		return t0, err
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", nd.adminPort))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return t0, nil
			}
		}
	}
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return t0, fmt.Errorf("sluice did not become ready:\n%s", nd.log)
}

func (nd *node) stop() {
	nd.cmd.Process.Signal(syscall.SIGTERM)
	nd.cmd.Wait()
	if nd.probeConn != nil {
		nd.probeConn.Close()
		nd.probeConn = nil
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}

// admin sends an Admin API request; it returns the answer's modifiedIndex.
func (nd *node) admin(method, path, body string) (int64, error) {
	req, _ := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d/apisix/admin/%s", nd.adminPort, path), strings.NewReader(body))
	req.Header.Set("X-API-KEY", key)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return 0, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	var rev int64
	if i := bytes.Index(b, []byte(`"modifiedIndex":`)); i >= 0 {
		fmt.Sscanf(string(b[i+len(`"modifiedIndex":`):]), "%d", &rev)
	}
	return rev, nil
}

// get sends GET path to the data plane over one kept-alive connection and
// returns the status (0 when the connection failed).
func (nd *node) get(path string) int {
	nd.probeMu.Lock()
	defer nd.probeMu.Unlock()
	for try := 0; try < 2; try++ {
		if nd.probeConn == nil {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", nd.httpPort), time.Second)
			if err != nil {
				return 0
			}
			nd.probeConn, nd.probeRd = c, bufio.NewReader(c)
		}
		nd.probeConn.SetDeadline(time.Now().Add(2 * time.Second))
		req, _ := http.NewRequest("GET", "http://bench"+path, nil)
		if err := req.Write(nd.probeConn); err == nil {
			if resp, err := http.ReadResponse(nd.probeRd, req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.Close {
					nd.probeConn.Close()
					nd.probeConn = nil
				}
				return resp.StatusCode
			}
		}
		nd.probeConn.Close()
		nd.probeConn = nil
	}
	return 0
}

// probe connects to the stream port from src and returns what the upstream
// said ("" when no route served the connection).
func (nd *node) probe(src string) string {
	d := net.Dialer{Timeout: time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", nd.stream))
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

// writeAll PUTs routes [from, to) with w concurrent writers; it returns the
// highest revision written and the route that got it.
func (nd *node) writeAll(from, to, w int, path func(i int) string, body func(i int) string) (int64, int, error) {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	var first atomic.Pointer[error]
	var mu sync.Mutex
	var top int64
	last := -1
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= to || first.Load() != nil {
					return
				}
				for try := 0; ; try++ {
					rev, err := nd.admin("PUT", path(i), body(i))
					if err == nil {
						mu.Lock()
						if rev > top {
							top, last = rev, i
						}
						mu.Unlock()
						break
					}
					// A 503 is etcd not answering within the Admin API's
					// timeout (an overloaded machine): counted, retried.
					if strings.Contains(err.Error(), ": 503 ") && try < 5 {
						retries.Add(1)
						continue
					}
					first.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if e := first.Load(); e != nil {
		return 0, 0, *e
	}
	return top, last, nil
}

// waitHTTP polls each path until it answers 200, or 120 s.
func (nd *node) waitHTTP(paths []string) error {
	deadline := time.Now().Add(120 * time.Second)
	for _, p := range paths {
		for nd.get(p) != 200 {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s never served", p)
			}
		}
	}
	return nil
}

func rssKB(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb
		}
	}
	return 0
}

// cpu is the process's user+system CPU time.
func cpu(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return time.Duration(u+s) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

func pct(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

func run(o *options) error {
	dir, err := os.MkdirTemp(o.tmp, "sluice-configplane")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	nd := &node{dir: dir, httpPort: freePort(), stream: freePort(), adminPort: freePort(), etcd: freePort(), pin: o.pin}
	nd.cfg = filepath.Join(dir, "config.yaml")
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
		nd.pprofPort = freePort()
	}
	extra := ""
	if o.extra != "" {
		extra = ", " + o.extra
	}
	conf := fmt.Sprintf(`listen: {http: ["127.0.0.1:%d"], stream: {tcp: ["127.0.0.1:%d"]}}
admin: {listen: "127.0.0.1:%d", keys: [{name: bench, key: %q, role: admin}]}
workers: 1
config: {provider: etcd}
etcd: {embedded: true, data_dir: data/etcd, endpoints: ["http://127.0.0.1:%d"]%s}
log: {level: warn}
`, nd.httpPort, nd.stream, nd.adminPort, key, nd.etcd, extra)
	if err := os.WriteFile(nd.cfg, []byte(conf), 0o644); err != nil {
		return err
	}
	webPort := freePort()
	go peers.RunUpstreams(peers.Upstreams{HTTP: webPort})
	a, b := tagUpstream("A"), tagUpstream("B")
	if _, err := nd.start(o.bin); err != nil {
		return err
	}
	defer func() {
		if nd.cmd.ProcessState == nil {
			nd.stop()
		}
	}()
	ups := map[string]string{"A": a, "B": b, "web": fmt.Sprintf("127.0.0.1:%d", webPort)}
	for tag, addr := range ups {
		if _, err := nd.admin("PUT", "upstreams/"+tag, fmt.Sprintf(`{"nodes":{%q:1}}`, addr)); err != nil {
			return err
		}
	}
	fsync := "O_DSYNC 4 KiB write: " + dsyncProbe(dir)
	fmt.Printf("sluice %s, 1 worker loop, embedded etcd with data in %s (%s)%s, %s, loadavg %s\n",
		o.bin, dir, fsync, map[bool]string{true: ", " + o.extra, false: ""}[o.extra != ""], time.Now().UTC().Format(time.RFC3339), loadavg())
	if o.pin {
		fmt.Println("sluice pinned to CPU 0, wrk to CPU 1")
	}
	if peers.Nice != 0 {
		fmt.Printf("sluice, wrk and this driver at niceness %d\n", peers.Nice)
	}
	phases := map[string]bool{}
	for _, p := range strings.Split(o.phases, ",") {
		phases[strings.TrimSpace(p)] = true
	}
	if phases["prop"] {
		if err := propagation(nd, o.n); err != nil {
			return err
		}
	}
	if phases["burst"] {
		if err := burst(nd, o); err != nil {
			return err
		}
	}
	if phases["churn"] {
		if err := churn(nd, o); err != nil {
			return err
		}
	}
	if phases["bulk"] {
		if err := bulk(nd, o); err != nil {
			return err
		}
	}
	return nil
}

// dsyncProbe times 200 4 KiB O_DSYNC writes in dir: what a WAL fsync costs
// on that file system right now.
func dsyncProbe(dir string) string {
	f, err := os.OpenFile(filepath.Join(dir, "dsync-probe"), os.O_CREATE|os.O_WRONLY|syscall.O_DSYNC, 0o600)
	if err != nil {
		return "?"
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	var ds []time.Duration
	for range 200 {
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			return "?"
		}
		ds = append(ds, time.Since(t))
	}
	return fmt.Sprintf("p50 %s, p99 %s", ms(pct(ds, 0.5)), ms(pct(ds, 0.99)))
}

func propagation(nd *node, n int) error {
	kinds := []struct {
		name  string
		put   func(i int) (string, string)
		serve func(i int) bool
	}{
		{"HTTP route (GET answered 200 instead of 404)",
			func(i int) (string, string) {
				return fmt.Sprintf("routes/p%d", i), fmt.Sprintf(`{"uri":"/prop/%d","upstream_id":"web"}`, i)
			},
			func(i int) bool { return nd.get(fmt.Sprintf("/prop/%d", i)) == 200 }},
		{"stream route (connection answered by the new upstream)",
			func(i int) (string, string) {
				return fmt.Sprintf("stream_routes/p%d", i), fmt.Sprintf(`{"server_port":%d,"upstream_id":%q}`, nd.stream, []string{"A", "B"}[i%2])
			},
			func(i int) bool { return nd.probe("") == []string{"A", "B"}[i%2] }},
	}
	for _, k := range kinds {
		m0 := etcdMetrics(nd.etcd)
		var lat, ack, after []time.Duration
		for i := range n {
			// Stream routes: the previous one goes first, so the new one
			// is the only match.
			if strings.HasPrefix(k.name, "stream") && i > 0 {
				if _, err := nd.admin("DELETE", fmt.Sprintf("stream_routes/p%d", i-1), ""); err != nil {
					return err
				}
			}
			path, body := k.put(i)
			t0 := time.Now()
			if _, err := nd.admin("PUT", path, body); err != nil {
				return err
			}
			t1 := time.Now()
			for !k.serve(i) {
				if time.Since(t0) > 10*time.Second {
					return fmt.Errorf("%s never served", path)
				}
			}
			lat = append(lat, time.Since(t0))
			ack = append(ack, t1.Sub(t0))
			after = append(after, time.Since(t1))
		}
		m1 := etcdMetrics(nd.etcd)
		fmt.Printf("| propagation, Admin PUT → first request served, %s (n=%d) | p50 %s | p99 %s | max %s |\n",
			k.name, n, ms(pct(lat, 0.5)), ms(pct(lat, 0.99)), ms(pct(lat, 1)))
		fmt.Printf("| … of which the PUT itself (validated, committed to etcd, answered) | p50 %s | p99 %s | max %s |\n",
			ms(pct(ack, 0.5)), ms(pct(ack, 0.99)), ms(pct(ack, 1)))
		fmt.Printf("| … and from the PUT's answer to the first request served | p50 %s | p99 %s | max %s |\n",
			ms(pct(after, 0.5)), ms(pct(after, 0.99)), ms(pct(after, 1)))
		for _, h := range []struct{ name, metric string }{
			{"etcd WAL fsync", "etcd_disk_wal_fsync_duration_seconds"},
			{"etcd backend commit (blocks applies while it runs)", "etcd_disk_backend_commit_duration_seconds"},
		} {
			fmt.Printf("| … %s over the same interval | %s |\n", h.name, m1.hist(h.metric).sub(m0.hist(h.metric)))
		}
	}
	return nil
}

func burst(nd *node, o *options) error {
	path := func(i int) string { return fmt.Sprintf("routes/b%d", i) }
	body := func(i int) string { return fmt.Sprintf(`{"uri":"/burst/%d","upstream_id":"web"}`, i) }
	t0 := time.Now()
	c0 := cpu(nd.cmd.Process.Pid)
	_, last, err := nd.writeAll(0, o.burst, o.writers, path, body)
	if err != nil {
		return err
	}
	written := time.Since(t0)
	// Snapshots are published in revision order: once the route written
	// last serves, every earlier one is in the table too (checked below).
	if err := nd.waitHTTP([]string{fmt.Sprintf("/burst/%d", last)}); err != nil {
		return err
	}
	live := time.Since(t0)
	c1 := cpu(nd.cmd.Process.Pid)
	var all []string
	for i := range o.burst {
		all = append(all, fmt.Sprintf("/burst/%d", i))
	}
	if err := nd.waitHTTP(all); err != nil {
		return err
	}
	check := ""
	if d := time.Since(t0); d > live+2*time.Second {
		check = fmt.Sprintf(" (but not all served until %s)", ms(d))
	}
	fmt.Printf("| burst of %d HTTP route writes (%d writers) | all written %s | all serving %s after the first write%s | sluice CPU %s | 503s retried %d |\n",
		o.burst, o.writers, ms(written), ms(live), check, ms(c1-c0), retries.Swap(0))
	return nil
}

// churn runs wrk on a route that never changes, alone and with o.rate
// route changes per second on other routes, o.rounds times interleaved.
func churn(nd *node, o *options) error {
	const churned = 50
	steady := o.steady
	if _, _, err := nd.writeAll(0, steady, o.writers, func(i int) string { return fmt.Sprintf("routes/s%d", i) },
		func(i int) string { return fmt.Sprintf(`{"uri":"/steady/%d","upstream_id":"web"}`, i) }); err != nil {
		return err
	}
	for i := range churned {
		if _, err := nd.admin("PUT", fmt.Sprintf("routes/c%d", i), fmt.Sprintf(`{"uri":"/churn/%d/0","upstream_id":"web"}`, i)); err != nil {
			return err
		}
	}
	if err := nd.waitHTTP([]string{"/steady/7", fmt.Sprintf("/churn/%d/0", churned-1)}); err != nil {
		return err
	}
	k := 0
	{
		// The changes alone, nothing else running: what one costs sluice
		// (Admin API, etcd, watch, build, publish) in CPU time, which
		// other work on the machine hardly changes.
		ctx, cancel := context.WithTimeout(context.Background(), o.churnTime)
		var applied, failed atomic.Int64
		profiled := make(chan struct{})
		go func() {
			defer close(profiled)
			profileRound(nd.pprofPort, o.profile, "changes-alone", o.churnTime)
		}()
		c0 := cpu(nd.cmd.Process.Pid)
		nd.change(ctx, o.rate, churned, &k, &applied, &failed)
		used := cpu(nd.cmd.Process.Pid) - c0
		cancel()
		<-profiled
		if err := nd.waitHTTP([]string{fmt.Sprintf("/churn/%d/%d", k%churned, k)}); err != nil {
			return err
		}
		per := time.Duration(0)
		if n := applied.Load(); n > 0 {
			per = used / time.Duration(n)
		}
		fmt.Printf("\n%d routes, %d other routes rewritten at %d/s for %s with no other load: %d changes applied (%d errors), sluice CPU %.2f s, %s per change; loadavg %s\n",
			steady, churned, o.rate, o.churnTime, applied.Load(), failed.Load(), used.Seconds(), ms(per), loadavg())
	}
	fmt.Printf("\nwrk -t1 -c%d -d%s on /steady/7 (%d routes that never change), and %d other routes rewritten at %d/s (each a new uri); loadavg %s\n\n",
		o.conns, o.churnTime, steady, churned, o.rate, loadavg())
	fmt.Println("| round | route changes | changes applied (errors) | wrk requests/s | p50 | p99 | non-2xx | socket errors | sluice CPU | loop thread CPU | loop thread waiting for a CPU | loop CPU per request | rest of sluice CPU | … over the round before, per change |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	cpuArg := -1
	if o.pin {
		cpuArg = 1
	}
	var quiet time.Duration // the rest of sluice's CPU in the last round without changes
	for round := 1; round <= o.rounds; round++ {
		for _, changes := range []bool{false, true} {
			ctx, cancel := context.WithCancel(context.Background())
			var applied, failed atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				if changes {
					nd.change(ctx, o.rate, churned, &k, &applied, &failed)
				}
			}()
			secs := int(o.churnTime / time.Second)
			label := "none"
			if changes {
				label = fmt.Sprintf("%d/s", o.rate)
			}
			profiled := make(chan struct{})
			go func() {
				defer close(profiled)
				profileRound(nd.pprofPort, o.profile, fmt.Sprintf("round%d-%s", round, strings.ReplaceAll(label, "/", "per")), o.churnTime)
			}()
			t0 := threads(nd.cmd.Process.Pid)
			c0 := cpu(nd.cmd.Process.Pid)
			out, err := peers.Run(context.Background(), cpuArg, o.churnTime+30*time.Second, "wrk", "-t1", fmt.Sprintf("-c%d", o.conns),
				fmt.Sprintf("-d%ds", secs), "--latency", fmt.Sprintf("http://127.0.0.1:%d/steady/7", nd.httpPort))
			cancel()
			<-done
			used := cpu(nd.cmd.Process.Pid) - c0
			_, loop := busiest(t0, threads(nd.cmd.Process.Pid))
			<-profiled
			if err != nil {
				return fmt.Errorf("wrk: %v\n%s", err, out)
			}
			w, err := peers.ParseWrk(out)
			if err != nil {
				return fmt.Errorf("%v\n%s", err, out)
			}
			if changes {
				// The last change is live: the changes did reach the data plane.
				if err := nd.waitHTTP([]string{fmt.Sprintf("/churn/%d/%d", k%churned, k)}); err != nil {
					return err
				}
			}
			perReq := time.Duration(0)
			if n := w.RPS * o.churnTime.Seconds(); n > 0 {
				perReq = time.Duration(float64(loop.cpu) / n)
			}
			rest := used - loop.cpu
			extra := "–"
			if !changes {
				quiet = rest
			} else if n := applied.Load(); n > 0 {
				extra = ms((rest - quiet) / time.Duration(n))
			}
			fmt.Printf("| %d | %s | %d (%d) | %.0f | %s | %s | %d | %d | %.2f s | %.2f s | %.2f s | %.1f µs | %.2f s | %s |\n", round, label, applied.Load(), failed.Load(), w.RPS, ms(w.P50), ms(w.P99), w.Non2xx, w.Errors, used.Seconds(),
				loop.cpu.Seconds(), loop.wait.Seconds(), float64(perReq)/1e3, rest.Seconds(), extra)
		}
	}
	fmt.Println()
	return nil
}

// change rewrites routes c0…c<churned-1> at rate a second until ctx ends,
// each with a new uri (the k-th change: /churn/<k%churned>/<k>), on time
// whatever one change takes: up to 16 in flight, each to a route of its
// own. A change that would be the 17th in flight is counted as failed.
func (nd *node) change(ctx context.Context, rate, churned int, k *int, applied, failed *atomic.Int64) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var inflight sync.WaitGroup
	defer inflight.Wait()
	sem := make(chan struct{}, 16)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			failed.Add(1) // 16 behind: counted as a failed change
			continue
		}
		*k++
		i, v := *k%churned, *k
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			defer func() { <-sem }()
			if _, err := nd.admin("PUT", fmt.Sprintf("routes/c%d", i), fmt.Sprintf(`{"uri":"/churn/%d/%d","upstream_id":"web"}`, i, v)); err != nil {
				failed.Add(1)
			} else {
				applied.Add(1)
			}
		}()
	}
}

func bulk(nd *node, o *options) error {
	path := func(i int) string { return fmt.Sprintf("routes/k%d", i) }
	body := func(i int) string { return fmt.Sprintf(`{"uri":"/bulk/%d","upstream_id":"web"}`, i) }
	t0 := time.Now()
	_, last, err := nd.writeAll(0, o.bulk, o.writers, path, body)
	if err != nil {
		return err
	}
	written := time.Since(t0)
	if err := nd.waitHTTP([]string{fmt.Sprintf("/bulk/%d", last)}); err != nil {
		return err
	}
	lastLive := time.Since(t0)
	var all []string
	for i := range o.bulk {
		all = append(all, fmt.Sprintf("/bulk/%d", i))
	}
	if err := nd.waitHTTP(all); err != nil {
		return err
	}
	fmt.Printf("| %d HTTP routes through the Admin API (%d writers) | all written %s | last one serving %s | RSS %d MiB | 503s retried %d |\n",
		o.bulk, o.writers, ms(written), ms(lastLive), rssKB(nd.cmd.Process.Pid)>>10, retries.Swap(0))
	nd.stop()

	start, err := nd.start(o.bin)
	if err != nil {
		return err
	}
	ready := time.Since(start)
	if err := nd.waitHTTP([]string{fmt.Sprintf("/bulk/%d", o.bulk-1)}); err != nil {
		return err
	}
	serving := time.Since(start)
	if err := nd.waitHTTP(all); err != nil {
		return err
	}
	fmt.Printf("| cold start with %d routes in etcd | ready %s | last route serving %s after exec | RSS %d MiB |\n",
		o.bulk, ms(ready), ms(serving), rssKB(nd.cmd.Process.Pid)>>10)
	nd.stop()
	return nil
}

// metrics is one scrape of etcd's /metrics: histogram buckets by name.
type metrics map[string][]bucket

type bucket struct {
	le    float64
	count float64
}

type hist []bucket

func etcdMetrics(port int) metrics {
	m := metrics{}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return m
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, `_bucket{le="`)
		if !ok {
			continue
		}
		le, val, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		b := bucket{le: math.Inf(1)}
		if le != "+Inf" {
			b.le, _ = strconv.ParseFloat(le, 64)
		}
		b.count, _ = strconv.ParseFloat(val, 64)
		m[name] = append(m[name], b)
	}
	return m
}

func (m metrics) hist(name string) hist { return m[name] }

func (h hist) sub(o hist) hist {
	out := append(hist(nil), h...)
	for i := range out {
		if i < len(o) {
			out[i].count -= o[i].count
		}
	}
	return out
}

// String gives the count and the buckets that hold the median and the 99th
// percentile ("≤ 2 ms").
func (h hist) String() string {
	if len(h) == 0 {
		return "no metrics"
	}
	total := h[len(h)-1].count
	if total == 0 {
		return "none"
	}
	at := func(p float64) string {
		for _, b := range h {
			if b.count >= p*total {
				if math.IsInf(b.le, 1) {
					return "> " + ms(time.Duration(h[len(h)-2].le*1e9))
				}
				return "≤ " + ms(time.Duration(b.le*1e9))
			}
		}
		return "?"
	}
	over := 0.0
	for _, b := range h {
		if b.le <= 0.008 {
			over = total - b.count
		}
	}
	return fmt.Sprintf("%.0f of them, p50 %s, p99 %s, %.0f over 8 ms", total, at(0.5), at(0.99), over)
}
