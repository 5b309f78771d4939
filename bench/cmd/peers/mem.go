package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/sluice-gateway/sluice/bench/peers"
)

var (
	mIdleKB  = peers.Metric{Key: "idlekb", Title: "RSS per idle proxied TCP connection", Unit: "KB", Scale: 1, Decimals: 2, LowerBetter: true}
	mIdleRSS = peers.Metric{Key: "idlerss", Title: "RSS before the idle connections", Unit: "MiB", Scale: 1 << 20, Decimals: 1, LowerBetter: true, NoRatio: true}
	mFlood   = peers.Metric{Key: "flood", Title: "peak RSS growth, 256 MiB flood into a client that does not read", Unit: "MiB", Scale: 1 << 20, Decimals: 1, LowerBetter: true, NoRatio: true}
	mFloodIn = peers.Metric{Key: "floodin", Title: "bytes the flood upstream got rid of meanwhile", Unit: "MiB", Scale: 1 << 20, Decimals: 1, LowerBetter: true, NoRatio: true}
)

// mem measures, for one fresh proxy at a time: the RSS cost of idle proxied
// connections, and the RSS growth when an upstream floods a client that
// never reads.
func (h *harness) mem() {
	fmt.Printf("\n## Memory: idle connections and a flood into a client that does not read\n")
	ports, err := peers.FreePorts(4)
	if err != nil {
		fmt.Println("\nmemory suite not run:", err)
		return
	}
	u := peers.Upstreams{Hold: ports[0], Flood: ports[1], Ctrl: ports[2], HTTP: ports[3]}
	up, err := h.startUpstream("upstreams", u.Ctrl, h.env.Self, "-role", "upstreams", "-upstreams", peers.FormatUpstreams(u))
	if err != nil {
		fmt.Println("\nmemory suite not run:", err)
		return
	}
	defer up.Stop(2 * time.Second)

	n := h.o.idleConns
	// The proxy holds two descriptors per proxied connection.
	if limit := int(h.env.Nofile/2) - 50; n > limit {
		fmt.Printf("\n-idle-conns %d lowered to %d: RLIMIT_NOFILE is %d and a proxy holds 2 descriptors per proxied connection.\n", n, limit, h.env.Nofile)
		n = limit
	}
	if n < 10000 {
		fmt.Printf("\nIdle connections: %d (not 10,000: the hard RLIMIT_NOFILE here is %d, and a proxy holds 2 descriptors per proxied connection).\n", n, h.env.Nofile)
	}
	fmt.Printf("Flood: the upstream writes %d MiB into the connection; the client never reads for %v; proxy RSS sampled every 100 ms.\n", peers.FloodBytes>>20, h.o.floodTime)

	pxs, skipped := h.proxies(false)
	var rows []string
	for _, px := range peers.Catalogue() {
		if px.StartL4 != nil && (len(h.o.only) == 0 || h.o.only[px.Name]) {
			rows = append(rows, px.Name)
		}
	}
	res := peers.NewResults(rows, peerRows, mIdleKB, mIdleRSS, mFlood, mFloodIn)
	for name, why := range skipped {
		res.SetStatus(name, why)
	}
	for _, px := range pxs {
		if h.ctx.Err() != nil {
			break
		}
		// A fresh process for each test, so that neither inherits the
		// other's heap; the flood first, since a proxy may not survive the
		// idle test near the descriptor limit.
		for _, test := range []string{"flood", "idle"} {
			port, err := peers.FreePorts(1)
			if err != nil {
				res.SetStatus(px.Name, "failed to start: "+err.Error())
				break
			}
			upPort := u.Flood
			if test == "idle" {
				upPort = u.Hold
			}
			p, err := px.Launch(h.env, false, []peers.Route{{Port: port[0], Upstream: "127.0.0.1:" + strconv.Itoa(upPort)}})
			if err != nil {
				res.SetStatus(px.Name, "failed to start: "+err.Error())
				h.logf("%s: failed to start: %v", px.Name, err)
				break
			}
			if test == "flood" {
				h.flood(res, px.Name, p, port[0], u.Ctrl)
			} else {
				h.idle(res, px.Name, p, port[0], u.Ctrl, n)
			}
			p.Stop(2 * time.Second)
		}
	}
	res.Write(os.Stdout)
	fmt.Println("\nSummary, memory (× best of nginx/haproxy; lower is better):")
	res.WriteSummary(os.Stdout)
	if h.ctx.Err() == nil {
		h.memHTTP(u)
	}
}

var mIdleHTTP = peers.Metric{Key: "idlehttp", Title: "RSS per idle keep-alive HTTP client connection", Unit: "KB", Scale: 1, Decimals: 2, LowerBetter: true}

// memHTTP measures the RSS cost of idle keep-alive client connections to an
// HTTP proxy: each connection makes one request (1 KiB response from the Go
// origin), reads the whole response, and then stays open and idle.
func (h *harness) memHTTP(u peers.Upstreams) {
	n := h.o.idleHTTP
	// The driver holds one descriptor per connection; the proxy one, plus its
	// upstream pool.
	if limit := int(h.env.Nofile) - 500; n > limit {
		n = limit
	}
	fmt.Printf("\n### Idle keep-alive HTTP connections (L7)\n\n%d client connections, one GET each (1 KiB response from the Go origin), then idle; KB = (RSS after − RSS before) / connections.\n", n)
	pxs, skipped := h.proxies(true)
	var rows []string
	for _, px := range peers.Catalogue() {
		if px.StartL7 != nil && (len(h.o.only) == 0 || h.o.only[px.Name]) {
			rows = append(rows, px.Name)
		}
	}
	res := peers.NewResults(rows, peerRows, mIdleHTTP)
	for name, why := range skipped {
		res.SetStatus(name, why)
	}
	for _, px := range pxs {
		if h.ctx.Err() != nil {
			break
		}
		port, err := peers.FreePorts(1)
		if err != nil {
			res.SetStatus(px.Name, "failed to start: "+err.Error())
			continue
		}
		p, err := px.Launch(h.env, true, []peers.Route{{Port: port[0], Upstream: "127.0.0.1:" + strconv.Itoa(u.HTTP)}})
		if err != nil {
			res.SetStatus(px.Name, "failed to start: "+err.Error())
			h.logf("%s: failed to start: %v", px.Name, err)
			continue
		}
		time.Sleep(500 * time.Millisecond)
		rss0 := p.RSS()
		conns, err := peers.OpenIdleHTTP("127.0.0.1:"+strconv.Itoa(port[0]), n, 64, 90*time.Second)
		time.Sleep(time.Second)
		rss1 := p.RSS()
		done, xerr := p.Exited()
		peers.CloseAll(conns)
		p.Stop(2 * time.Second)
		switch {
		case done:
			res.Fail(mIdleHTTP.Key, px.Name, fmt.Errorf("died holding idle connections (%v): %s", xerr, p.LogTail(2)))
			continue
		case len(conns) == 0:
			res.Fail(mIdleHTTP.Key, px.Name, fmt.Errorf("no request answered: %v", err))
			continue
		}
		per := float64(rss1-rss0) / 1024 / float64(len(conns))
		res.Add(mIdleHTTP.Key, px.Name, per)
		if len(conns) < n {
			res.Note(mIdleHTTP.Key, px.Name, fmt.Sprintf("only %d of %d connections answered (%v)", len(conns), n, err))
		}
		h.logf("idle http %-8s %d conns: RSS %.1f → %.1f MiB, %.2f KB/conn", px.Name, len(conns),
			float64(rss0)/(1<<20), float64(rss1)/(1<<20), per)
	}
	res.Write(os.Stdout)
}

func (h *harness) idle(res *peers.Results, row string, p *peers.Proc, port, ctrl, n int) {
	time.Sleep(500 * time.Millisecond)
	before, err := peers.ReadCounters(ctrl)
	if err != nil {
		res.Fail(mIdleKB.Key, row, err)
		return
	}
	rss0 := p.RSS()
	conns, derr := peers.OpenIdle("127.0.0.1:"+strconv.Itoa(port), n, 64, 60*time.Second)
	defer func() {
		peers.CloseAll(conns)
		// Let the upstream see them go before the next test (bounded).
		for i := 0; i < 150; i++ {
			if c, err := peers.ReadCounters(ctrl); err != nil || c.HoldOpen <= before.HoldOpen {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	// Wait until the upstream has accepted every proxied connection.
	var seen int64
	for i := 0; i < 300; i++ {
		c, err := peers.ReadCounters(ctrl)
		if err == nil {
			seen = c.HoldAccepted - before.HoldAccepted
			if seen >= int64(len(conns)) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if done, err := p.Exited(); done {
		res.Fail(mIdleKB.Key, row, fmt.Errorf("died holding idle connections (%v): %s", err, p.LogTail(2)))
		return
	}
	rss1 := p.RSS()
	if len(conns) == 0 {
		res.Fail(mIdleKB.Key, row, fmt.Errorf("no connection established: %v", derr))
		return
	}
	// A connection counts once the upstream has it: a client's connect can
	// succeed in the listen backlog of a proxy that never accepts it.
	proxied := int64(len(conns))
	if seen < proxied {
		proxied = seen
	}
	if proxied <= 0 {
		res.Fail(mIdleKB.Key, row, fmt.Errorf("the upstream saw none of %d connections", len(conns)))
		return
	}
	per := float64(rss1-rss0) / 1024 / float64(proxied)
	res.Add(mIdleKB.Key, row, per)
	res.Add(mIdleRSS.Key, row, float64(rss0))
	note := ""
	if proxied < int64(n) {
		note = fmt.Sprintf("only %d of %d connections reached the upstream", proxied, n)
		if derr != nil {
			note += fmt.Sprintf(" (client: %v)", derr)
		}
	}
	if note != "" {
		res.Note(mIdleKB.Key, row, note)
	}
	h.logf("idle %-8s %d conns proxied: RSS %.1f → %.1f MiB, %.2f KB/conn %s", row, proxied,
		float64(rss0)/(1<<20), float64(rss1)/(1<<20), per, note)
}

func (h *harness) flood(res *peers.Results, row string, p *peers.Proc, port, ctrl int) {
	time.Sleep(500 * time.Millisecond)
	before, err := peers.ReadCounters(ctrl)
	if err != nil {
		res.Fail(mFlood.Key, row, err)
		return
	}
	rss0 := p.RSS()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		res.Fail(mFlood.Key, row, err)
		return
	}
	peak := rss0
	end := time.Now().Add(h.o.floodTime)
	for time.Now().Before(end) {
		time.Sleep(100 * time.Millisecond)
		if r := p.RSS(); r > peak {
			peak = r
		}
	}
	after, _ := peers.ReadCounters(ctrl)
	c.Close()
	if done, err := p.Exited(); done {
		res.Fail(mFlood.Key, row, fmt.Errorf("died during the flood (%v): %s", err, p.LogTail(2)))
		return
	}
	sent := after.FloodSent - before.FloodSent
	res.Add(mFlood.Key, row, float64(peak-rss0))
	res.Add(mFloodIn.Key, row, float64(sent))
	h.logf("flood %-8s RSS %.1f → peak %.1f MiB (+%.1f); upstream wrote %.1f MiB", row,
		float64(rss0)/(1<<20), float64(peak)/(1<<20), float64(peak-rss0)/(1<<20), float64(sent)/(1<<20))
}
