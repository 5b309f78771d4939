package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// threadStat is one thread's CPU time and the time it waited on a CPU run
// queue (the kernel's schedstat), to tell a loop that was busy from one
// that was ready to run but not running.
type threadStat struct {
	cpu, wait time.Duration
}

// threads reads every thread of pid.
func threads(pid int) map[int]threadStat {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, _ := os.ReadDir(dir)
	m := make(map[int]threadStat, len(ents))
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		run, _ := strconv.ParseInt(f[0], 10, 64)
		wait, _ := strconv.ParseInt(f[1], 10, 64)
		m[tid] = threadStat{cpu: time.Duration(run), wait: time.Duration(wait)}
	}
	return m
}

// busiest is the thread that ran most between two readings (under wrk,
// the worker loop's: it is locked to its OS thread), and what it did.
func busiest(before, after map[int]threadStat) (tid int, d threadStat) {
	for t, a := range after {
		b := before[t]
		if c := a.cpu - b.cpu; c > d.cpu {
			tid, d = t, threadStat{cpu: c, wait: a.wait - b.wait}
		}
	}
	return tid, d
}

// profileRound fetches a CPU profile and an execution trace of sluice
// (`sluice run -pprof`) during a churn round of length d, into dir, and
// the allocation profile before and after the CPU profile (compare them
// with go tool pprof -base).
func profileRound(port int, dir, name string, d time.Duration) {
	if port == 0 || dir == "" {
		return
	}
	get := func(path, file string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			fmt.Fprintln(os.Stderr, "configplane: profile:", err)
			return
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		io.Copy(&buf, resp.Body)
		if resp.StatusCode != 200 {
			fmt.Fprintf(os.Stderr, "configplane: profile %s: %d %s\n", path, resp.StatusCode, buf.String())
			return
		}
		os.WriteFile(filepath.Join(dir, file), buf.Bytes(), 0o644)
	}
	secs := int(d/time.Second) - 4
	if secs < 1 {
		secs = 1
	}
	time.Sleep(2 * time.Second)
	get("/debug/pprof/allocs", name+".allocs0.pprof")
	done := make(chan struct{})
	go func() {
		defer close(done)
		get(fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), name+".cpu.pprof")
	}()
	time.Sleep(time.Second)
	get("/debug/pprof/trace?seconds=1", name+".trace")
	<-done
	get("/debug/pprof/allocs", name+".allocs1.pprof")
}
