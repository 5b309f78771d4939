// Command configplane measures sluice's config plane on one node with the
// embedded etcd, as a user sees it: through the Admin API and real TCP
// connections to the data plane, never by asking sluice what it thinks.
//
//   - propagation: Admin PUT of a new stream route → the first connection
//     that the new route serves (p50/p99 over -n changes);
//   - burst: 1,000 stream routes written concurrently through the Admin API
//     → every one of them serving;
//   - bulk: 10,000 stream routes in etcd → time until all serve (written
//     through the Admin API, then again from a cold start that reads them
//     all at once), and the process's RSS (embedded etcd included).
//
// Each route matches on its own client address (127.1.x.y, bound as the
// source of the probe connection), so "live" is checked per route.
//
//	go run ./cmd/configplane -sluice ../bin/sluice
//	go run ./cmd/configplane -sluice ../bin/sluice -n 500 -burst 1000 -bulk 10000
//	go run ./cmd/configplane -sluice ../bin/sluice -tmp /dev/shm   # etcd data in memory: no fsync cost
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
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
)

const key = "bench-admin-key-0123456789"

// retries counts Admin API writes answered 503 and sent again.
var retries atomic.Int64

func main() {
	bin := flag.String("sluice", "../bin/sluice", "sluice binary (make build)")
	n := flag.Int("n", 300, "propagation samples")
	burst := flag.Int("burst", 1000, "routes in the write burst")
	bulk := flag.Int("bulk", 10000, "routes in the bulk load")
	writers := flag.Int("writers", 32, "concurrent Admin API writers for burst and bulk")
	tmp := flag.String("tmp", "", "where the node's directory (and so etcd's data) goes; default $TMPDIR. Try /dev/shm to leave the disk's fsync out")
	flag.Parse()
	if err := run(*bin, *tmp, *n, *burst, *bulk, *writers); err != nil {
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

// upstream answers every connection with its tag and closes.
func upstream(tag string) string {
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
	dir                  string
	cfg                  string
	port, adminPort, etc int
	cmd                  *exec.Cmd
	log                  *bytes.Buffer
	mu                   sync.Mutex
}

func (nd *node) start(bin string) (time.Time, error) {
	nd.log = &bytes.Buffer{}
	nd.cmd = exec.Command(bin, "run", "-c", nd.cfg)
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

func (nd *node) admin(method, path, body string) error {
	req, _ := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d/apisix/admin/%s", nd.adminPort, path), strings.NewReader(body))
	req.Header.Set("X-API-KEY", key)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return nil
}

// clientIP is route i's client address: 127.1.0.1, 127.1.0.2, …
func clientIP(i int) string { return fmt.Sprintf("127.1.%d.%d", i/250, i%250+1) }

// probe connects from src (empty: any) and returns what the upstream said
// ("" when no route served the connection).
func (nd *node) probe(src string) string {
	d := net.Dialer{Timeout: time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", nd.port))
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

// writeAll PUTs routes [from, to) with w concurrent writers.
func (nd *node) writeAll(from, to, w int, body func(i int) string) error {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	var first atomic.Pointer[error]
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
					err := nd.admin("PUT", fmt.Sprintf("stream_routes/r%d", i), body(i))
					if err == nil {
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
		return *e
	}
	return nil
}

// waitLive probes routes [from, to) until each has served once, or 120 s.
func (nd *node) waitLive(from, to int, want string) error {
	pending := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		pending = append(pending, i)
	}
	deadline := time.Now().Add(120 * time.Second)
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d routes never served", len(pending))
		}
		left := pending[:0]
		for _, i := range pending {
			if nd.probe(clientIP(i)) != want {
				left = append(left, i)
			}
		}
		pending = left
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

func run(bin, tmp string, n, burst, bulk, writers int) error {
	dir, err := os.MkdirTemp(tmp, "sluice-configplane")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	nd := &node{dir: dir, port: freePort(), adminPort: freePort(), etc: freePort()}
	nd.cfg = filepath.Join(dir, "config.yaml")
	conf := fmt.Sprintf(`listen: {http: [], stream: {tcp: ["127.0.0.1:%d"]}}
admin: {listen: "127.0.0.1:%d", keys: [{name: bench, key: %q, role: admin}]}
workers: 1
config: {provider: etcd}
etcd: {embedded: true, data_dir: data/etcd, endpoints: ["http://127.0.0.1:%d"]}
log: {level: warn}
`, nd.port, nd.adminPort, key, nd.etc)
	if err := os.WriteFile(nd.cfg, []byte(conf), 0o644); err != nil {
		return err
	}
	a, b := upstream("A"), upstream("B")
	if _, err := nd.start(bin); err != nil {
		return err
	}
	defer func() {
		if nd.cmd.ProcessState == nil {
			nd.stop()
		}
	}()
	for tag, addr := range map[string]string{"A": a, "B": b} {
		if err := nd.admin("PUT", "upstreams/"+tag, fmt.Sprintf(`{"nodes":{%q:1}}`, addr)); err != nil {
			return err
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("sluice %s, 1 worker loop, embedded etcd with data in %s, %s, loadavg %s\n", bin, dir, time.Now().UTC().Format(time.RFC3339), strings.Fields(string(load))[0])

	// Propagation: a new route each time, alternating upstreams, the
	// previous one deleted first so the new one is the only match.
	var lat, ack, after []time.Duration
	for i := range n {
		if i > 0 {
			if err := nd.admin("DELETE", fmt.Sprintf("stream_routes/p%d", i-1), ""); err != nil {
				return err
			}
		}
		want := []string{"A", "B"}[i%2]
		t0 := time.Now()
		if err := nd.admin("PUT", fmt.Sprintf("stream_routes/p%d", i), fmt.Sprintf(`{"server_port":%d,"upstream_id":%q}`, nd.port, want)); err != nil {
			return err
		}
		t1 := time.Now()
		ack = append(ack, t1.Sub(t0))
		for nd.probe("") != want {
			if time.Since(t0) > 10*time.Second {
				return fmt.Errorf("route p%d never served", i)
			}
		}
		lat = append(lat, time.Since(t0))
		after = append(after, time.Since(t1))
	}
	if err := nd.admin("DELETE", fmt.Sprintf("stream_routes/p%d", n-1), ""); err != nil {
		return err
	}
	fmt.Printf("| propagation, Admin PUT → first connection served (n=%d) | p50 %s | p99 %s | max %s |\n",
		n, ms(pct(lat, 0.5)), ms(pct(lat, 0.99)), ms(pct(lat, 1)))
	fmt.Printf("| … of which the PUT itself (validated, stored in etcd, answered) | p50 %s | p99 %s | max %s |\n",
		ms(pct(ack, 0.5)), ms(pct(ack, 0.99)), ms(pct(ack, 1)))
	fmt.Printf("| … and from the PUT's answer to the first connection served | p50 %s | p99 %s | max %s |\n",
		ms(pct(after, 0.5)), ms(pct(after, 0.99)), ms(pct(after, 1)))

	// Burst: routes r0…r(burst-1), each for its own client address.
	body := func(i int) string {
		return fmt.Sprintf(`{"server_port":%d,"remote_addr":%q,"upstream_id":"A"}`, nd.port, clientIP(i))
	}
	t0 := time.Now()
	c0 := cpu(nd.cmd.Process.Pid)
	if err := nd.writeAll(0, burst, writers, body); err != nil {
		return err
	}
	written := time.Since(t0)
	if err := nd.waitLive(0, burst, "A"); err != nil {
		return err
	}
	fmt.Printf("| burst of %d route writes (%d writers) | all written %s | all serving %s after the first write | sluice CPU %s | 503s retried %d |\n",
		burst, writers, ms(written), ms(time.Since(t0)), ms(cpu(nd.cmd.Process.Pid)-c0), retries.Swap(0))

	// Bulk: up to `bulk` routes through the Admin API, then a cold start.
	t0 = time.Now()
	if err := nd.writeAll(burst, bulk, writers, body); err != nil {
		return err
	}
	written = time.Since(t0)
	if err := nd.waitLive(bulk-1, bulk, "A"); err != nil {
		return err
	}
	lastLive := time.Since(t0)
	if err := nd.waitLive(0, bulk, "A"); err != nil {
		return err
	}
	fmt.Printf("| %d routes through the Admin API (%d writers) | all written %s | last one serving %s | RSS %d MiB | 503s retried %d |\n",
		bulk, writers, ms(written), ms(lastLive), rssKB(nd.cmd.Process.Pid)>>10, retries.Swap(0))
	nd.stop()

	start, err := nd.start(bin)
	if err != nil {
		return err
	}
	ready := time.Since(start)
	if err := nd.waitLive(bulk-1, bulk, "A"); err != nil {
		return err
	}
	serving := time.Since(start)
	if err := nd.waitLive(0, bulk, "A"); err != nil {
		return err
	}
	fmt.Printf("| cold start with %d routes in etcd | ready %s | last route serving %s after exec | RSS %d MiB |\n",
		bulk, ms(ready), ms(serving), rssKB(nd.cmd.Process.Pid)>>10)
	nd.stop()
	return nil
}
