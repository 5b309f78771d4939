package main

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"time"

	"github.com/sluice-gateway/sluice/bench/peers"
)

// target is where one row of a suite sends its load: 127.0.0.1:port per
// upstream, either the upstream itself ("direct") or a proxy in front of it.
type target struct {
	row   string
	proc  *peers.Proc // nil for direct
	ports map[string]int
}

// alive says whether the row can still be measured, recording why not.
func (t *target) alive(res *peers.Results) bool {
	if t.proc == nil {
		return true
	}
	if done, err := t.proc.Exited(); done {
		if res.Status(t.row) == "" {
			res.SetStatus(t.row, fmt.Sprintf("died during the run (%v): %s", err, t.proc.LogTail(2)))
		}
		return false
	}
	return true
}

// busy starts measuring the proxy's CPU use; the function it returns gives
// the percentage of one core used since (false for direct).
func (t *target) busy() func() (float64, bool) {
	if t.proc == nil {
		return func() (float64, bool) { return 0, false }
	}
	cpu0, wall0 := t.proc.CPUTime(), time.Now()
	return func() (float64, bool) {
		wall := time.Since(wall0)
		if wall <= 0 {
			return 0, false
		}
		return 100 * float64(t.proc.CPUTime()-cpu0) / float64(wall), true
	}
}

var (
	mIperf = peers.Metric{Key: "iperf", Title: "iperf3, 1 stream", Unit: "Gbit/s", Scale: 1e9, Decimals: 1}
	mSet1  = peers.Metric{Key: "set1", Title: "redis-benchmark SET -c50 -P1", Unit: "k ops/s", Scale: 1e3, Decimals: 1}
	mGet1  = peers.Metric{Key: "get1", Title: "redis-benchmark GET -c50 -P1", Unit: "k ops/s", Scale: 1e3, Decimals: 1}
	mSet16 = peers.Metric{Key: "set16", Title: "redis-benchmark SET -c50 -P16", Unit: "k ops/s", Scale: 1e3, Decimals: 0}
	mGet16 = peers.Metric{Key: "get16", Title: "redis-benchmark GET -c50 -P16", Unit: "k ops/s", Scale: 1e3, Decimals: 0}
	// How busy the proxy's CPU was: near 100% the proxy is the bottleneck;
	// well below, CPU 0 (load and upstream) was, and the ratios understate
	// the differences between proxies.
	mIperfCPU = peers.Metric{Key: "iperfcpu", Title: "proxy CPU busy during iperf3", Unit: "% of its core", Scale: 1, Decimals: 0, LowerBetter: true, NoRatio: true}
	mRedisCPU = peers.Metric{Key: "redis1cpu", Title: "proxy CPU busy during redis-benchmark -P1", Unit: "% of its core", Scale: 1, Decimals: 0, LowerBetter: true, NoRatio: true}
)

var peerRows = []string{"nginx", "haproxy"}

// startUpstream starts a server on the load CPU and waits for its port.
func (h *harness) startUpstream(name string, port int, argv ...string) (*peers.Proc, error) {
	p, err := peers.Start(name, h.o.upCPU, h.env.Dir, nil, argv...)
	if err != nil {
		return nil, err
	}
	if err := peers.WaitReady(p, []int{port}, 10*time.Second); err != nil {
		p.Stop(time.Second)
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// launchAll starts every available proxy with the routes that routesFor
// gives it, and returns the targets (direct first) and the results table
// with the rows that could not start already marked.
func (h *harness) launchAll(l7 bool, direct map[string]int, ups map[string]string, metrics []peers.Metric, peerRows []string) ([]*target, *peers.Results, func()) {
	pxs, skipped := h.proxies(l7)
	rows := []string{"direct"}
	for _, px := range h.catalogue() {
		if len(h.o.only) == 0 || h.o.only[px.Name] {
			if (l7 && px.StartL7 != nil) || (!l7 && px.StartL4 != nil) {
				rows = append(rows, px.Name)
			}
		}
	}
	res := peers.NewResults(rows, peerRows, metrics...)
	for name, why := range skipped {
		res.SetStatus(name, why)
		h.logf("%s: %s", name, why)
	}
	targets := []*target{{row: "direct", ports: direct}}
	for _, px := range pxs {
		names := slices.Sorted(maps.Keys(ups))
		free, err := peers.FreePorts(len(names))
		if err != nil {
			res.SetStatus(px.Name, "failed to start: "+err.Error())
			continue
		}
		ports := map[string]int{}
		var rs []peers.Route
		for i, n := range names {
			ports[n] = free[i]
			rs = append(rs, peers.Route{Port: free[i], Upstream: ups[n]})
		}
		p, err := px.Launch(h.env, l7, rs)
		if err != nil {
			res.SetStatus(px.Name, "failed to start: "+err.Error())
			h.logf("%s: failed to start: %v", px.Name, err)
			continue
		}
		h.logf("%s: up (pid %d)", px.Name, p.Pid())
		targets = append(targets, &target{row: px.Name, proc: p, ports: ports})
	}
	stop := func() {
		for _, t := range targets {
			if t.proc != nil {
				t.proc.Stop(2 * time.Second)
			}
		}
	}
	return targets, res, stop
}

func (h *harness) l4() {
	fmt.Printf("\n## L4: TCP proxying (iperf3, redis-benchmark)\n")
	ports, err := peers.FreePorts(2)
	if err != nil {
		fmt.Println("\nL4 suite not run:", err)
		return
	}
	redisPort, iperfPort := ports[0], ports[1]
	haveRedis := have("redis-server") && have("redis-benchmark")
	haveIperf := have("iperf3")
	direct := map[string]int{}
	ups := map[string]string{}
	var metrics []peers.Metric
	var redis, iperf *peers.Proc
	if haveRedis {
		redis, err = h.startUpstream("redis", redisPort, "redis-server", "--bind", "127.0.0.1",
			"--port", strconv.Itoa(redisPort), "--save", "", "--appendonly", "no", "--daemonize", "no")
		if err != nil {
			fmt.Println("\nredis rows not run:", err)
			haveRedis = false
		} else {
			defer redis.Stop(2 * time.Second)
		}
	} else {
		fmt.Println("\nredis-server or redis-benchmark not installed: no redis rows")
	}
	if haveRedis {
		direct["redis"], ups["redis"] = redisPort, "127.0.0.1:"+strconv.Itoa(redisPort)
		metrics = append(metrics, mSet1, mGet1, mSet16, mGet16, mRedisCPU)
	}
	startIperf := func() (*peers.Proc, error) {
		return h.startUpstream("iperf3", iperfPort, "iperf3", "-s", "-B", "127.0.0.1", "-p", strconv.Itoa(iperfPort))
	}
	if haveIperf {
		iperf, err = startIperf()
		if err != nil {
			fmt.Println("\niperf3 rows not run:", err)
			haveIperf = false
		}
	} else {
		fmt.Println("\niperf3 not installed: no iperf3 rows")
	}
	if haveIperf {
		direct["iperf"], ups["iperf"] = iperfPort, "127.0.0.1:"+strconv.Itoa(iperfPort)
		metrics = append([]peers.Metric{mIperf, mIperfCPU}, metrics...)
	}
	defer func() {
		if iperf != nil {
			iperf.Stop(2 * time.Second)
		}
	}()
	if len(metrics) == 0 {
		return
	}
	targets, res, stop := h.launchAll(false, direct, ups, metrics, peerRows)
	defer stop()

	nz := noisy{}
	for round := 0; round < h.o.rounds && h.ctx.Err() == nil; round++ {
		order := rotateTargets(targets, round)
		if haveIperf {
			for _, t := range order {
				if !t.alive(res) {
					continue
				}
				// iperf3 -s takes a moment to finish the previous test.
				time.Sleep(500 * time.Millisecond)
				busy := t.busy()
				bps, share, err := measure(h, func() (float64, error) { return h.iperf(t.ports["iperf"]) })
				if pct, ok := busy(); ok && err == nil {
					res.Add(mIperfCPU.Key, t.row, pct)
				}
				if err != nil {
					res.Fail(mIperf.Key, t.row, err)
					h.logf("round %d iperf3 %s: %v", round+1, t.row, err)
					// A broken test can leave the server stuck: start a fresh one.
					iperf.Stop(time.Second)
					if iperf, err = startIperf(); err != nil {
						h.logf("iperf3 server: %v", err)
						haveIperf = false
						iperf = nil
						break
					}
					continue
				}
				res.Add(mIperf.Key, t.row, bps)
				h.noted(nz, res, share, t.row, mIperf.Key)
				h.logf("round %d iperf3 %-8s %6.2f Gbit/s   (other work: %.0f%%)", round+1, t.row, bps/1e9, share*100)
			}
		}
		if haveRedis {
			for _, pipe := range []int{1, 16} {
				for _, t := range order {
					if !t.alive(res) {
						continue
					}
					set, get := mSet1, mGet1
					n := h.o.redisN
					if pipe == 16 {
						set, get, n = mSet16, mGet16, 5*h.o.redisN
					}
					busy := t.busy()
					r, share, err := measure(h, func() (map[string]float64, error) { return h.redisBench(t.ports["redis"], pipe, n) })
					if pct, ok := busy(); ok && err == nil && pipe == 1 {
						res.Add(mRedisCPU.Key, t.row, pct)
					}
					if err != nil {
						res.Fail(set.Key, t.row, err)
						res.Fail(get.Key, t.row, err)
						h.logf("round %d redis -P%d %s: %v", round+1, pipe, t.row, err)
						continue
					}
					res.Add(set.Key, t.row, r["SET"])
					res.Add(get.Key, t.row, r["GET"])
					h.noted(nz, res, share, t.row, set.Key, get.Key)
					h.logf("round %d redis -P%-2d %-8s SET %7.0f GET %7.0f ops/s   (other work: %.0f%%)", round+1, pipe, t.row, r["SET"], r["GET"], share*100)
				}
			}
		}
	}
	res.Write(os.Stdout)
	fmt.Println("\nSummary, L4 (× best of nginx/haproxy):")
	res.WriteSummary(os.Stdout)
}

func (h *harness) iperf(port int) (float64, error) {
	secs := int(h.o.iperfTime.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	out, err := peers.Run(h.ctx, h.o.loadCPU, time.Duration(secs)*time.Second+20*time.Second,
		"iperf3", "-c", "127.0.0.1", "-p", strconv.Itoa(port), "-t", strconv.Itoa(secs), "-P", "1", "-J")
	if err != nil {
		// iperf3 -J prints its error as JSON on stdout.
		if _, perr := peers.ParseIperf3(out); perr != nil {
			return 0, fmt.Errorf("%v (%v)", err, perr)
		}
		return 0, err
	}
	return peers.ParseIperf3(out)
}

func (h *harness) redisBench(port, pipe, n int) (map[string]float64, error) {
	out, err := peers.Run(h.ctx, h.o.loadCPU, 3*time.Minute,
		"redis-benchmark", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "set,get",
		"-n", strconv.Itoa(n), "-c", "50", "-P", strconv.Itoa(pipe), "--csv")
	if err != nil {
		return nil, err
	}
	r, err := peers.ParseRedisCSV(out)
	if err != nil {
		return nil, err
	}
	if r["SET"] == 0 || r["GET"] == 0 {
		return nil, fmt.Errorf("redis-benchmark: missing SET or GET in %q", out)
	}
	return r, nil
}

func rotateTargets(ts []*target, r int) []*target {
	if len(ts) == 0 {
		return ts
	}
	r %= len(ts)
	return append(append([]*target(nil), ts[r:]...), ts[:r]...)
}

func have(bin string) bool {
	_, err := exec.LookPath(bin)
	return err == nil
}
