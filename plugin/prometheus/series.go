package prometheus

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// seriesKey is one label set of the request metrics, before the status
// code (apisix_http_status has it; latency and bandwidth do not).
type seriesKey struct {
	route, service, consumer string
	uri, host                string
	node                     netip.Addr
}

// sameAs reports whether k and o hold the very same strings (data and
// length): a cheap test that implies equality, for the per-loop cache.
func (k *seriesKey) sameAs(o *seriesKey) bool {
	return same(k.route, o.route) && same(k.service, o.service) && same(k.consumer, o.consumer) &&
		same(k.uri, o.uri) && same(k.host, o.host) && k.node == o.node
}

func same(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// own copies the strings of k, which may be views of a config snapshot
// the series should not keep alive, and formats the node label.
func (k seriesKey) own() (seriesKey, string) {
	cp := func(s string) string { return string(append([]byte(nil), s...)) }
	k.route, k.service, k.consumer, k.uri, k.host = cp(k.route), cp(k.service), cp(k.consumer), cp(k.uri), cp(k.host)
	node := ""
	if k.node.IsValid() {
		node = k.node.String()
	}
	return k, node
}

// APISIX's DEFAULT_BUCKETS for apisix_http_latency, in milliseconds.
var bucketsMS = [...]float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000}

const nBuckets = len(bucketsMS)

// bucketNS are the bucket bounds as durations, for the hot path.
var bucketNS = func() (b [nBuckets]time.Duration) {
	for i, ms := range bucketsMS {
		b[i] = time.Duration(ms * float64(time.Millisecond))
	}
	return
}()

// The latency types and bandwidth directions, as indexes.
const (
	latRequest = iota
	latUpstream
	latAPISIX
	nLat
)

var latTypes = [nLat]string{"request", "upstream", "apisix"}

const (
	bwIngress = iota
	bwEgress
	nBW
)

var bwTypes = [nBW]string{"ingress", "egress"}

// hist is a latency histogram: per-bucket counts (not cumulative; the last
// is +Inf) and the sum in nanoseconds.
type hist struct {
	n   [nBuckets + 1]ctr
	sum ctr
}

func (h *hist) observe(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := 0
	for i < nBuckets && d > bucketNS[i] {
		i++
	}
	h.n[i].add(1)
	h.sum.add(uint64(d))
}

// series is one label set's counters in one loop. Only that loop writes
// them (ctr); a scrape reads them.
type series struct {
	key  seriesKey
	node string
	// codes are status counts by class (code/100), each made on the
	// class's first request.
	codes [10]atomic.Pointer[[100]ctr]
	lat   [nLat]hist
	bw    [nBW]ctr
}

func (s *series) count(status int) {
	if status < 0 || status > 999 {
		status = 0
	}
	cl := s.codes[status/100].Load()
	if cl == nil {
		cl = new([100]ctr)
		s.codes[status/100].Store(cl)
	}
	cl[status%100].add(1)
}

// loopSeries is one event loop's series. The loop reads m and the cache
// without locking (it is their only writer); it holds mu while it adds a
// series, and a scrape holds mu while it reads all.
type loopSeries struct {
	cache [cacheSize]cached
	mu    sync.Mutex
	m     map[seriesKey]*series
	all   []*series
	_     [64]byte // keep loops' hot fields off each other's cache lines
}

// cached is a recent label set as the request gave it: its strings are
// compared by identity (Go strings are immutable, so the same data and
// length is the same value), and kept, which holds at most cacheSize
// snapshots' strings alive per loop.
type cached struct {
	k seriesKey
	s *series
}

const cacheSize = 64

func (l *loopSeries) series(k *seriesKey) *series {
	a := k.node.As16()
	h := uintptr(unsafe.Pointer(unsafe.StringData(k.route)))>>4 ^ uintptr(unsafe.Pointer(unsafe.StringData(k.consumer)))>>4 ^
		uintptr(len(k.uri)) ^ uintptr(a[15])*7
	e := &l.cache[h%cacheSize]
	if e.s != nil && e.k.sameAs(k) {
		return e.s
	}
	s := l.m[*k]
	if s == nil {
		s = l.add(k)
	}
	e.k, e.s = *k, s
	return s
}

func (l *loopSeries) add(k *seriesKey) *series {
	owned, node := k.own()
	s := &series{key: owned, node: node}
	l.mu.Lock()
	if l.m == nil {
		l.m = map[seriesKey]*series{}
	}
	l.m[owned] = s
	l.all = append(l.all, s)
	l.mu.Unlock()
	return s
}
