package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/sluice-gateway/sluice/bench/peers"
)

// plugins measures what the plugin set costs: the same route with
// no plugins and with key-auth + limit-count + prometheus (a limit high
// enough never to reject), through sluice, side by side in one run; nginx
// with its nearest equivalents (an API-key check by map and limit_req; it
// has no Prometheus exporter in Debian's nginx) for scale.
func (h *harness) plugins() {
	fmt.Printf("\n## Plugins: key-auth + limit-count + prometheus vs no plugins (wrk)\n")
	if !have("wrk") {
		fmt.Println("\nwrk not installed: no plugin rows")
		return
	}
	ports, err := peers.FreePorts(2)
	if err != nil {
		fmt.Println("\nplugins suite not run:", err)
		return
	}
	u := peers.Upstreams{HTTP: ports[0], Ctrl: ports[1]}
	up, err := h.startUpstream("upstreams-http", u.HTTP, h.env.Self, "-role", "upstreams", "-upstreams", peers.FormatUpstreams(u))
	if err != nil {
		fmt.Println("\nGo origin failed to start:", err)
		return
	}
	defer up.Stop(2 * time.Second)
	h.cat = peers.PluginCatalogue()
	defer func() { h.cat = nil }()

	rps := peers.Metric{Key: "prps", Title: "wrk -t1 -c50, Go origin 1 KiB, apikey header on every request", Unit: "k req/s", Scale: 1e3, Decimals: 1}
	p99 := peers.Metric{Key: "pp99", Title: "p99 latency -c50", Unit: "ms", Scale: 1e6, Decimals: 2, LowerBetter: true}
	cpu := peers.Metric{Key: "pcpu", Title: "proxy CPU per request -c50", Unit: "µs", Scale: 1e3, Decimals: 1, LowerBetter: true}
	ups := map[string]string{"http": "127.0.0.1:" + strconv.Itoa(u.HTTP)}
	targets, res, stop := h.launchAll(true, map[string]int{"http": u.HTTP}, ups, []peers.Metric{rps, p99, cpu}, []string{"sluice"})
	defer stop()
	fmt.Printf("\nwrk -t1 -c50 -d%v --latency -H 'apikey: %s'. Rows: %s.\n", h.o.wrkTime, peers.BenchAPIKey, peers.PluginRowsDoc)
	// The plugins must be doing their work: without the key, 401.
	for _, t := range targets {
		if t.row != "sluice+plugins" && t.row != "nginx+limits" {
			continue
		}
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(t.ports["http"]) + "/")
		if err != nil {
			res.SetStatus(t.row, "check failed: "+err.Error())
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			res.SetStatus(t.row, fmt.Sprintf("check failed: %d without the API key, want 401", resp.StatusCode))
			continue
		}
		fmt.Printf("\n%s: a request without the API key is answered %d (the key check is live).\n", t.row, resp.StatusCode)
	}
	nz := noisy{}
	for round := 0; round < h.o.rounds && h.ctx.Err() == nil; round++ {
		for _, t := range rotateTargets(targets, round) {
			if !t.alive(res) {
				continue
			}
			type run struct {
				w   peers.Wrk
				cpu float64
			}
			r, share, err := measure(h, func() (run, error) {
				var cpu0 time.Duration
				if t.proc != nil {
					cpu0 = t.proc.CPUTime()
				}
				w, err := h.wrk(t.ports["http"], 50, h.o.wrkTime, "apikey: "+peers.BenchAPIKey)
				if err != nil || t.proc == nil || w.Requests == 0 {
					return run{w: w}, err
				}
				return run{w: w, cpu: float64(t.proc.CPUTime()-cpu0) / float64(w.Requests)}, nil
			})
			if err != nil {
				res.Fail(rps.Key, t.row, err)
				continue
			}
			res.Add(rps.Key, t.row, r.w.RPS)
			res.Add(p99.Key, t.row, float64(r.w.P99))
			if r.cpu > 0 {
				res.Add(cpu.Key, t.row, r.cpu)
			}
			h.noted(nz, res, share, t.row, rps.Key, p99.Key)
			if r.w.Non2xx > 0 || r.w.Errors > 0 {
				res.Note(rps.Key, t.row, fmt.Sprintf("non-2xx %d, socket errors %d (last run)", r.w.Non2xx, r.w.Errors))
			}
			h.logf("round %d wrk plugins %-15s %8.0f req/s p99 %v cpu %.1fµs/req non2xx %d errs %d   (other work: %.0f%%)",
				round+1, t.row, r.w.RPS, r.w.P99, r.cpu/1e3, r.w.Non2xx, r.w.Errors, share*100)
		}
	}
	res.Write(os.Stdout)
	fmt.Printf("\nSummary, plugins (× sluice without plugins):\n")
	res.WriteSummary(os.Stdout)
}
