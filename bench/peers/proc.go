package peers

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a child process started in its own process group, so that it and
// everything it forks (nginx's master and worker) are measured and killed
// together.
type Proc struct {
	Name string
	Log  string // file that holds the child's stdout and stderr

	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid once done is closed
}

var (
	procsMu sync.Mutex
	procs   = map[*Proc]struct{}{}
)

// Nice, when not zero, is the niceness every child is started with (through
// nice(1)), so that on a shared machine other work's CPU-bound processes
// (builds, fuzzers) interfere less with the request/response ping-pong being
// measured. Every row gets the same.
var Nice int

func wrap(cpu int, argv []string) []string {
	if Nice != 0 {
		if _, err := exec.LookPath("nice"); err == nil {
			argv = append([]string{"nice", "-n", strconv.Itoa(Nice)}, argv...)
		}
	}
	if cpu == AnyCPU && HaveTaskset() {
		if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
			argv = append([]string{"taskset", "-c", strings.TrimSpace(string(b))}, argv...)
		}
	} else if cpu >= 0 && HaveTaskset() {
		argv = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
	}
	return argv
}

// AnyCPU, as a cpu argument, lets the process run on every CPU (the driver
// itself is pinned, and children inherit that); -1 leaves the affinity alone.
const AnyCPU = -2

// RaiseAutogroup applies Nice to this process's scheduler autogroup (all
// processes of its session): with autogroups on, the kernel shares the CPUs
// between sessions first, and a niceness inside a session does not count
// against other sessions' processes.
func RaiseAutogroup() error {
	if Nice == 0 {
		return nil
	}
	if b, err := os.ReadFile("/proc/sys/kernel/sched_autogroup_enabled"); err != nil || strings.TrimSpace(string(b)) != "1" {
		return nil
	}
	return os.WriteFile("/proc/self/autogroup", []byte(strconv.Itoa(Nice)), 0)
}

// HaveTaskset reports whether taskset(1) is there to pin processes.
func HaveTaskset() bool {
	_, err := exec.LookPath("taskset")
	return err == nil
}

// Start runs argv pinned to cpu (cpu < 0: not pinned) with extra environment
// variables, output to dir/name.log. The process is registered for KillAll.
func Start(name string, cpu int, dir string, env []string, argv ...string) (*Proc, error) {
	argv = wrap(cpu, argv)
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.Env = append(os.Environ(), env...)
	// Own process group: Ctrl-C in the terminal reaches the driver only, and
	// the driver kills each group. Pdeathsig covers a driver that dies hard.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &Proc{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	procsMu.Lock()
	procs[p] = struct{}{}
	procsMu.Unlock()
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process (and process group) id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM to the group, then SIGKILL after grace.
func (p *Proc) Stop(grace time.Duration) {
	pid := p.Pid()
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
	}
	// The leader may be gone while a forked worker is not.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
	}
	procsMu.Lock()
	delete(procs, p)
	procsMu.Unlock()
}

// KillAll SIGKILLs every process group still registered.
func KillAll() {
	procsMu.Lock()
	list := make([]*Proc, 0, len(procs))
	for p := range procs {
		list = append(list, p)
	}
	procsMu.Unlock()
	for _, p := range list {
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	}
	for _, p := range list {
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
		}
	}
}

// LogTail returns the last n lines of the process's log, for error reports.
func (p *Proc) LogTail(n int) string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// groupPids lists the processes whose process group is pgid.
func groupPids(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := statFields(b)
		// after "pid (comm)": state ppid pgrp ...
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			out = append(out, pid)
		}
	}
	return out
}

// statFields splits /proc/PID/stat after the command name, which may hold
// spaces and parentheses.
func statFields(b []byte) []string {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// RSS is the summed VmRSS, in bytes, of every process in the group.
func (p *Proc) RSS() int64 {
	var total int64
	for _, pid := range groupPids(p.Pid()) {
		total += vmRSS(pid)
	}
	return total
}

func vmRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "VmRSS:") {
			fs := strings.Fields(line)
			if len(fs) >= 2 {
				kb, _ := strconv.ParseInt(fs[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// clockTick is USER_HZ, which is 100 on every Linux this runs on.
const clockTick = 100

// CPUTime is the user+system time used so far by every live process in the
// group.
func (p *Proc) CPUTime() time.Duration {
	var ticks int64
	for _, pid := range groupPids(p.Pid()) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := statFields(b)
		// fields after comm: state(0) ppid(1) ... utime(11) stime(12)
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	}
	return time.Duration(ticks) * time.Second / clockTick
}

// Run runs a load tool pinned to cpu with a deadline and returns its stdout.
// stderr is appended to the error when the tool fails.
func Run(ctx context.Context, cpu int, timeout time.Duration, argv ...string) ([]byte, error) {
	argv = wrap(cpu, argv)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("%s: timed out after %v", argv[0], timeout)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 300 {
			msg = msg[len(msg)-300:]
		}
		if msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return stdout.Bytes(), err
	}
	return stdout.Bytes(), nil
}

// RaiseNofile raises the soft RLIMIT_NOFILE to the hard limit; children
// started afterwards inherit it. Returns the limit now in force.
func RaiseNofile() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
			return r.Cur, err
		}
	}
	return r.Cur, nil
}

// ErrNotInstalled says a peer's binary is not on PATH.
var ErrNotInstalled = errors.New("peers: not installed")
