package batchlog

import (
	"sync/atomic"
	"time"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/route"
)

// Batch is APISIX's batch processor settings (seconds, as configured).
type Batch struct {
	Name            string `json:"name"`
	BatchMaxSize    int    `json:"batch_max_size"`
	InactiveTimeout int    `json:"inactive_timeout"`
	BufferDuration  int    `json:"buffer_duration"`
	MaxRetryCount   int    `json:"max_retry_count"`
	RetryDelay      int    `json:"retry_delay"`
}

// DefaultBatch is APISIX's defaults; name is the plugin's.
func DefaultBatch(name string) Batch {
	return Batch{Name: name, BatchMaxSize: 1000, InactiveTimeout: 5, BufferDuration: 60, RetryDelay: 1}
}

// BatchSchema is the JSON Schema properties of Batch, for a plugin's
// schema.
const BatchSchema = `
	"name": {"type": "string"},
	"batch_max_size": {"type": "integer", "minimum": 1, "default": 1000},
	"inactive_timeout": {"type": "integer", "minimum": 1, "default": 5},
	"buffer_duration": {"type": "integer", "minimum": 1, "default": 60},
	"max_retry_count": {"type": "integer", "minimum": 0, "default": 0},
	"retry_delay": {"type": "integer", "minimum": 0, "default": 1}`

// Options are a logger's: how entries are batched and retried.
type Options struct {
	Name string
	// MaxSize is batch_max_size: a batch is handed over when it has this
	// many entries.
	MaxSize int
	// Inactive (inactive_timeout) and Buffer (buffer_duration) hand a
	// batch over when no entry came for that long, or its oldest entry
	// is that old. Eager instead hands it over as soon as the queue is
	// empty (file-logger: nothing is gained by waiting).
	Inactive, Buffer time.Duration
	Eager            bool
	// Retries (max_retry_count) more attempts, RetryDelay apart, before a
	// batch is dropped.
	Retries    int
	RetryDelay time.Duration
	// MaxPending bounds the records queued or being formatted; more are
	// dropped and counted.
	MaxPending int
	// Capture is what the logger copies of the bodies; Match (file-logger)
	// logs only requests one of whose expressions holds (none: all).
	Capture Capture
	Match   []*route.Expr
}

// FromBatch converts APISIX's settings.
func FromBatch(b Batch) Options {
	return Options{
		Name: b.Name, MaxSize: b.BatchMaxSize,
		Inactive: time.Duration(b.InactiveTimeout) * time.Second, Buffer: time.Duration(b.BufferDuration) * time.Second,
		Retries: b.MaxRetryCount, RetryDelay: time.Duration(b.RetryDelay) * time.Second,
	}
}

// DefaultMaxPending is APISIX's max_pending_entries default.
const DefaultMaxPending = 8192

// Sink delivers a batch: each entry's JSON, without separators. An error
// means the whole batch may be tried again.
type Sink interface {
	Write(entries [][]byte) error
}

// Logger is one logger instance: its queue and its worker goroutine,
// which runs while there is work and exits after idleExit without any.
type Logger struct {
	*Queue
	opts    Options
	format  *Format
	sink    Sink
	stats   *Stats
	running atomic.Bool

	// The worker's own.
	st          formatter
	batch       [][]byte
	n           int
	first, last time.Time
}

// idleExit is how long a worker waits with nothing to do before it ends
// (the next entry starts another): a logger whose config was replaced
// leaves no goroutine behind.
var idleExit = 30 * time.Second

// New makes a logger. It starts no goroutine until the first entry.
func New(o Options, f *Format, sink Sink, stats *Stats) *Logger {
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MaxSize < 1 {
		o.MaxSize = 1
	}
	l := &Logger{opts: o, format: f, sink: sink, stats: stats}
	l.Queue = newQueue(o.MaxPending, stats, l.wake)
	return l
}

func (l *Logger) wake() {
	if !l.running.Load() && l.running.CompareAndSwap(false, true) {
		go l.run()
	}
}

func (l *Logger) run() {
	t := time.NewTimer(idleExit)
	defer t.Stop()
	for {
		wait := idleExit
		if l.n > 0 {
			deadline := l.last.Add(l.opts.Inactive)
			if d := l.first.Add(l.opts.Buffer); d.Before(deadline) {
				deadline = d
			}
			wait = time.Until(deadline)
		}
		t.Reset(wait)
		select {
		case r := <-l.q:
			t.Stop()
			l.add(r)
			if l.opts.Eager {
				l.drain()
				l.flush()
			} else if l.n >= l.opts.MaxSize {
				l.flush()
			}
		case <-t.C:
			if l.n > 0 {
				l.flush()
				continue
			}
			l.running.Store(false)
			// An entry pushed while this worker was deciding to end saw it
			// running and started none.
			if len(l.q) > 0 && l.running.CompareAndSwap(false, true) {
				continue
			}
			return
		}
	}
}

// drain takes every entry already queued, handing over full batches.
func (l *Logger) drain() {
	for {
		select {
		case r := <-l.q:
			l.add(r)
			if l.n >= l.opts.MaxSize {
				l.flush()
			}
		default:
			return
		}
	}
}

// add formats r into the batch and returns it to the pool.
func (l *Logger) add(r *Record) {
	if !l.decide(r) {
		l.st.parsed = nil // r goes back to the pool
		l.put(r)
		return
	}
	now := time.Now()
	if l.n == 0 {
		l.first = now
	}
	l.last = now
	if l.n == len(l.batch) {
		l.batch = append(l.batch, nil)
	}
	l.batch[l.n] = l.format.Append(l.batch[l.n][:0], &l.st, r)
	l.n++
	l.put(r)
}

// flush hands the batch to the sink, retrying as configured.
func (l *Logger) flush() {
	if l.n == 0 {
		return
	}
	entries := l.batch[:l.n]
	l.n = 0
	for try := 0; ; try++ {
		err := l.sink.Write(entries)
		if err == nil {
			l.stats.Sent.Add(int64(len(entries)))
			return
		}
		if try >= l.opts.Retries {
			l.stats.Failed.Add(int64(len(entries)))
			core.Warnf("%s: dropping %d log entries after %d attempts: %v", l.opts.Name, len(entries), try+1, err)
			return
		}
		time.Sleep(l.opts.RetryDelay)
	}
}
