package peers

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// Noise measures how much CPU other work on the machine used while a
// measurement ran: the machine's user+system time (/proc/stat) minus that of
// this driver, its waited-for children (the load tools) and every process
// group started with Start. Interrupt and softirq time are left out on both
// sides, since loopback traffic puts ours there.
type Noise struct {
	start        time.Time
	total, ours0 time.Duration
}

// StartNoise begins a measurement.
func StartNoise() *Noise {
	return &Noise{start: time.Now(), total: machineBusy(), ours0: oursBusy()}
}

// Share is the fraction of the machine's CPU capacity (all CPUs) that other
// work used since StartNoise.
func (n *Noise) Share(cpus int) float64 {
	wall := time.Since(n.start)
	if wall <= 0 || cpus <= 0 {
		return 0
	}
	foreign := (machineBusy() - n.total) - (oursBusy() - n.ours0)
	if foreign < 0 {
		foreign = 0
	}
	return float64(foreign) / float64(wall*time.Duration(cpus))
}

func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	var ticks int64
	for _, i := range []int{1, 2, 3} {
		if i < len(f) {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += v
		}
	}
	return time.Duration(ticks) * time.Second / clockTick
}

func oursBusy() time.Duration {
	var d time.Duration
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		f := statFields(b)
		// utime(11) stime(12) cutime(13) cstime(14)
		for i := 11; i <= 14 && i < len(f); i++ {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			d += time.Duration(v) * time.Second / clockTick
		}
	}
	procsMu.Lock()
	list := make([]*Proc, 0, len(procs))
	for p := range procs {
		list = append(list, p)
	}
	procsMu.Unlock()
	for _, p := range list {
		d += p.CPUTime()
	}
	return d
}
