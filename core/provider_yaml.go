package core

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// YAMLProvider serves the standalone file (config.provider: yaml). The file
// is watched with inotify: a change is validated whole and published, and a
// bad file is rejected with file, line and reason while the previous
// snapshot keeps serving. SIGHUP (Reload) does the same by hand.
type YAMLProvider struct {
	cfg   *Config
	path  string
	store *Store
	loops int

	mu    sync.Mutex // one load at a time
	last  []byte     // the bytes of the file in force
	ready atomic.Bool
	// loaded and rejected count outcomes; tests wait on them.
	loaded   atomic.Int64
	rejected atomic.Int64
	lastErr  atomic.Pointer[error]
}

// NewYAMLProvider serves path (already resolved) through store.
func NewYAMLProvider(cfg *Config, path string, store *Store, loops int) *YAMLProvider {
	return &YAMLProvider{cfg: cfg, path: path, store: store, loops: loops}
}

// Ready reports whether the file has been loaded once.
func (p *YAMLProvider) Ready() bool { return p.ready.Load() }

// Loads is how many versions of the file have been published.
func (p *YAMLProvider) Loads() int64 { return p.loaded.Load() }

// LastError is the most recent rejection (nil if none).
func (p *YAMLProvider) LastError() error {
	if e := p.lastErr.Load(); e != nil {
		return *e
	}
	return nil
}

// Rejects is how many changes were rejected.
func (p *YAMLProvider) Rejects() int64 { return p.rejected.Load() }

// Load reads the file and publishes it. On error nothing changes.
func (p *YAMLProvider) Load() error {
	_, err := p.load(false)
	return err
}

// Reload is Load for a change: it skips an unchanged file and logs the
// outcome either way.
func (p *YAMLProvider) Reload() {
	changed, err := p.load(true)
	switch {
	case err != nil:
		p.lastErr.Store(&err)
		p.rejected.Add(1)
		Errorf("reload rejected, previous config keeps serving: %v", err)
	case changed:
		ResetOnce()
		Infof("reloaded %s (version %d)", p.path, p.store.Load().Version)
	}
}

func (p *YAMLProvider) load(skipSame bool) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	data, err := os.ReadFile(p.path)
	if err != nil {
		return false, &ConfigError{File: p.path, Reason: err.Error()}
	}
	if skipSame && p.last != nil && bytes.Equal(data, p.last) {
		return false, nil
	}
	var res Resources
	d, err := decodeBytes(p.path, data, &res)
	if err != nil {
		return false, err
	}
	snap, err := build(p.cfg, &res, d, p.loops)
	if err != nil {
		return false, err
	}
	if err := p.store.Publish(snap); err != nil {
		return false, fmt.Errorf("%s: %w", p.path, err)
	}
	p.last = data
	p.ready.Store(true)
	p.loaded.Add(1)
	return true, nil
}

// quietPeriod is how long the file must stay unchanged after an event
// before it is read: editors write in several steps.
const (
	quietPeriod = 50 * time.Millisecond
	maxDelay    = 500 * time.Millisecond
)

// Watch reloads the file whenever it is written or replaced, until ctx ends.
// It watches the directory, so a file replaced by rename (as editors and
// config management do) is followed too.
func (p *YAMLProvider) Watch(ctx context.Context) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	defer unix.Close(fd)
	dir, name := filepath.Dir(p.path), filepath.Base(p.path)
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF); err != nil {
		return fmt.Errorf("watching %s: %w", dir, err)
	}
	var stop [2]int
	if err := unix.Pipe2(stop[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return err
	}
	defer unix.Close(stop[0])
	go func() {
		<-ctx.Done()
		unix.Write(stop[1], []byte{0})
		unix.Close(stop[1])
	}()
	buf := make([]byte, 64<<10)
	pending := false
	var first time.Time // first event of the pending change
	for {
		timeout := -1
		if pending {
			// Wait for a quiet period, but no longer than maxDelay in all,
			// so a file rewritten nonstop still gets applied.
			left := time.Until(first.Add(maxDelay))
			timeout = int(min(quietPeriod, max(left, 0)) / time.Millisecond)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(stop[0]), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		if fds[1].Revents != 0 {
			return nil
		}
		if n == 0 { // quiet period over
			pending = false
			p.Reload()
			continue
		}
		r, err := unix.Read(fd, buf)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("inotify read: %w", err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= r; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 {
				return fmt.Errorf("%s was removed; no longer watching (SIGHUP still reloads)", dir)
			}
			if string(bytes.TrimRight(nameBytes, "\x00")) == name && !pending {
				pending, first = true, time.Now()
			}
		}
		if pending && time.Since(first) >= maxDelay {
			pending = false
			p.Reload()
		}
	}
}
