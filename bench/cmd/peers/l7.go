package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/sluice-gateway/sluice/bench/peers"
)

// l7Origin is one HTTP upstream the L7 rows proxy to.
type l7Origin struct {
	key, title string
	port       int
}

func l7Metrics(o l7Origin) (rps, p50, p99, cpu, c1 peers.Metric) {
	rps = peers.Metric{Key: o.key + "rps", Title: "wrk -t1 -c50, " + o.title, Unit: "k req/s", Scale: 1e3, Decimals: 1}
	p50 = peers.Metric{Key: o.key + "p50", Title: "p50 latency -c50, " + o.title, Unit: "ms", Scale: 1e6, Decimals: 2, LowerBetter: true}
	p99 = peers.Metric{Key: o.key + "p99", Title: "p99 latency -c50, " + o.title, Unit: "ms", Scale: 1e6, Decimals: 2, LowerBetter: true}
	cpu = peers.Metric{Key: o.key + "cpu", Title: "proxy CPU per request -c50, " + o.title, Unit: "µs", Scale: 1e3, Decimals: 1, LowerBetter: true}
	c1 = peers.Metric{Key: o.key + "c1", Title: "p50 latency -c1 (one connection), " + o.title, Unit: "ms", Scale: 1e6, Decimals: 3, LowerBetter: true}
	return
}

// l7 runs wrk through every HTTP proxy to two origins in turn: nginx
// returning a 5-byte body, and a Go server returning 1 KiB. The proxies are
// started afresh for each origin, with a single route "/*".
func (h *harness) l7() {
	fmt.Printf("\n## L7: HTTP/1.1 reverse proxying (wrk)\n")
	if !have("wrk") {
		fmt.Println("\nwrk not installed: no L7 rows")
		return
	}
	ports, err := peers.FreePorts(3)
	if err != nil {
		fmt.Println("\nL7 suite not run:", err)
		return
	}
	var origins []l7Origin
	if have("nginx") {
		ng, err := peers.NginxOrigin(h.env, h.o.upCPU, ports[0])
		if err != nil {
			fmt.Println("\nnginx origin (5-byte body) failed to start:", err)
		} else {
			defer ng.Stop(2 * time.Second)
			origins = append(origins, l7Origin{key: "b5", title: "nginx origin, 5-byte body", port: ports[0]})
		}
	} else {
		fmt.Println("\nnginx not installed: no 5-byte-body origin")
	}
	u := peers.Upstreams{HTTP: ports[1], Ctrl: ports[2]}
	up, err := h.startUpstream("upstreams-http", u.HTTP, h.env.Self, "-role", "upstreams", "-upstreams", peers.FormatUpstreams(u))
	if err != nil {
		fmt.Println("\nGo origin (1 KiB body) failed to start:", err)
	} else {
		defer up.Stop(2 * time.Second)
		origins = append(origins, l7Origin{key: "k1", title: "Go origin, 1 KiB body", port: ports[1]})
	}
	fmt.Printf("\nwrk -t1 -c50 -d%v --latency, and -c1 -d%v; proxies keep a keep-alive pool to the origin. CPU per request is the proxy's user+system time over the -c50 run divided by its requests.\n",
		h.o.wrkTime, h.o.wrkTime/2)
	for _, o := range origins {
		if h.ctx.Err() != nil {
			return
		}
		h.l7Origin(o)
	}
}

func (h *harness) l7Origin(o l7Origin) {
	rps, p50, p99, cpu, c1 := l7Metrics(o)
	fmt.Printf("\n### %s\n", o.title)
	ups := map[string]string{"http": "127.0.0.1:" + strconv.Itoa(o.port)}
	targets, res, stop := h.launchAll(true, map[string]int{"http": o.port}, ups,
		[]peers.Metric{rps, p50, p99, cpu, c1}, peerRows)
	defer stop()
	nz := noisy{}
	type run struct {
		w   peers.Wrk
		cpu float64 // proxy CPU per request, ns
	}
	for round := 0; round < h.o.rounds && h.ctx.Err() == nil; round++ {
		order := rotateTargets(targets, round)
		for _, t := range order {
			if !t.alive(res) {
				continue
			}
			r, share, err := measure(h, func() (run, error) {
				var cpu0 time.Duration
				if t.proc != nil {
					cpu0 = t.proc.CPUTime()
				}
				w, err := h.wrk(t.ports["http"], 50, h.o.wrkTime)
				if err != nil || t.proc == nil || w.Requests == 0 {
					return run{w: w}, err
				}
				return run{w: w, cpu: float64(t.proc.CPUTime()-cpu0) / float64(w.Requests)}, nil
			})
			if err != nil {
				res.Fail(rps.Key, t.row, err)
				h.logf("round %d wrk %s %s: %v", round+1, o.key, t.row, err)
				continue
			}
			w := r.w
			res.Add(rps.Key, t.row, w.RPS)
			res.Add(p50.Key, t.row, float64(w.P50))
			res.Add(p99.Key, t.row, float64(w.P99))
			if r.cpu > 0 {
				res.Add(cpu.Key, t.row, r.cpu)
			}
			h.noted(nz, res, share, t.row, rps.Key, p50.Key, p99.Key)
			if w.Non2xx > 0 || w.Errors > 0 {
				res.Note(rps.Key, t.row, fmt.Sprintf("non-2xx %d, socket errors %d (last run)", w.Non2xx, w.Errors))
			}
			h.logf("round %d wrk %s %-8s %8.0f req/s p50 %v p99 %v cpu %.1fµs/req non2xx %d errs %d   (other work: %.0f%%)",
				round+1, o.key, t.row, w.RPS, w.P50, w.P99, r.cpu/1e3, w.Non2xx, w.Errors, share*100)
		}
		for _, t := range order {
			if !t.alive(res) {
				continue
			}
			w, share, err := measure(h, func() (peers.Wrk, error) { return h.wrk(t.ports["http"], 1, h.o.wrkTime/2) })
			if err != nil {
				res.Fail(c1.Key, t.row, err)
				continue
			}
			res.Add(c1.Key, t.row, float64(w.P50))
			h.noted(nz, res, share, t.row, c1.Key)
			h.logf("round %d wrk -c1 %s %-8s p50 %v   (other work: %.0f%%)", round+1, o.key, t.row, w.P50, share*100)
		}
	}
	res.Write(os.Stdout)
	fmt.Printf("\nSummary, L7, %s (× best of nginx/haproxy):\n", o.title)
	res.WriteSummary(os.Stdout)
}

func (h *harness) wrk(port, conns int, d time.Duration, headers ...string) (peers.Wrk, error) {
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	args := []string{"-t1", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(secs) + "s", "--latency"}
	for _, hd := range headers {
		args = append(args, "-H", hd)
	}
	args = append(args, "http://127.0.0.1:"+strconv.Itoa(port)+"/")
	out, err := peers.Run(h.ctx, h.o.loadCPU, time.Duration(secs)*time.Second+30*time.Second, append([]string{"wrk"}, args...)...)
	if err != nil {
		return peers.Wrk{}, err
	}
	return peers.ParseWrk(out)
}
