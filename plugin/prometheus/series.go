package prometheus

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// seriesKey is one label set of the request metrics, before the status
// code (apisix_http_status has it; latency and bandwidth do not), with the
// values of the extra labels' variables.
type seriesKey struct {
	route, service, consumer string
	uri, host                string
	node                     netip.Addr
	extra                    [maxExtra]string
}

// sameAs reports whether k and o hold the very same strings (data and
// length): a cheap test that implies equality, for the per-loop cache
// (only used without extra labels, whose values are views of a request).
func (k *seriesKey) sameAs(o *seriesKey) bool {
	return same(k.route, o.route) && same(k.service, o.service) && same(k.consumer, o.consumer) &&
		same(k.uri, o.uri) && same(k.host, o.host) && k.node == o.node
}

func same(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// own copies the strings of k, which may be views of a config snapshot
// (or of a request) the series should not keep alive, and formats the
// node label.
func (k seriesKey) own() (seriesKey, string) {
	cp := func(s string) string { return string(append([]byte(nil), s...)) }
	k.route, k.service, k.consumer, k.uri, k.host = cp(k.route), cp(k.service), cp(k.consumer), cp(k.uri), cp(k.host)
	for i := range k.extra {
		k.extra[i] = cp(k.extra[i])
	}
	node := ""
	if k.node.IsValid() {
		node = k.node.String()
	}
	return k, node
}

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
	n   []ctr
	sum ctr
}

func (h *hist) observe(d time.Duration, bounds []time.Duration) {
	if d < 0 {
		d = 0
	}
	i := 0
	for i < len(bounds) && d > bounds[i] {
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
	a    *attr // the settings it was made with (its buckets)
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
	// streams are the stream (L4) counters, written by this loop.
	streams map[streamKey]*streamSeries
	buf     [64]byte // scratch for formatting a label value
	_       [64]byte // keep loops' hot fields off each other's cache lines
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

func (l *loopSeries) series(k *seriesKey, a *attr) *series {
	if len(a.vars) > 0 {
		// The extra values are views of this request: look them up by value.
		if s := l.m[*k]; s != nil && s.a == a {
			return s
		}
		return l.add(k, a)
	}
	ad := k.node.As16()
	h := uintptr(unsafe.Pointer(unsafe.StringData(k.route)))>>4 ^ uintptr(unsafe.Pointer(unsafe.StringData(k.consumer)))>>4 ^
		uintptr(len(k.uri)) ^ uintptr(ad[15])*7
	e := &l.cache[h%cacheSize]
	if e.s != nil && e.k.sameAs(k) {
		return e.s
	}
	s := l.m[*k]
	if s == nil || s.a != a {
		s = l.add(k, a)
	}
	e.k, e.s = *k, s
	return s
}

func (l *loopSeries) add(k *seriesKey, a *attr) *series {
	owned, node := k.own()
	s := &series{key: owned, node: node, a: a}
	for t := range s.lat {
		s.lat[t].n = make([]ctr, len(a.bucketNS)+1)
	}
	l.mu.Lock()
	if l.m == nil {
		l.m = map[seriesKey]*series{}
	}
	l.m[owned] = s
	l.all = append(l.all, s)
	l.mu.Unlock()
	return s
}

// streamKey is one stream (L4) label set: the stream route, the listening
// address and the upstream node.
type streamKey struct {
	route  string
	listen netip.AddrPort
	node   netip.AddrPort
}

// streamSeries are a stream label set's counters: sessions started and
// ended (their difference is the active ones), ended by status class, and
// bytes each way on each side.
type streamSeries struct {
	started, ended ctr
	codes          [6]ctr // 200, 400, 403, 500, 502, 503
	bytes          [2]ctr // from the client (downstream ingress, upstream egress); to it
}

var streamCodes = [6]int{200, 400, 403, 500, 502, 503}

func (l *loopSeries) stream(k streamKey) *streamSeries {
	if s := l.streams[k]; s != nil {
		return s
	}
	k.route = string(append([]byte(nil), k.route...))
	s := &streamSeries{}
	l.mu.Lock()
	if l.streams == nil {
		l.streams = map[streamKey]*streamSeries{}
	}
	l.streams[k] = s
	l.mu.Unlock()
	return s
}
