// Package batchlog is what the logger plugins (http-logger, file-logger)
// share: capturing a request on the event loop without allocating, a
// bounded queue that drops (and counts) rather than blocks, one goroutine
// per logger that formats entries as APISIX does and hands batches to the
// plugin's sink, with APISIX's batch processor rules (batch_max_size,
// inactive_timeout, buffer_duration, max_retry_count, retry_delay).
//
// On the loop, a log hook copies the request and response heads as
// received (one copy each, into storage reused once warm) and a few fixed
// fields into a record from the logger's pool. Parsing headers and query
// strings, evaluating log_format variables and encoding JSON all happen
// on the logger's goroutine.
package batchlog

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/plugin"
)

// Record is one request as the log hook captured it.
type Record struct {
	// Head and RespHead are the request and the upstream's response head
	// as received (RespHead empty when the gateway answered itself).
	Head, RespHead []byte
	Status         int
	Start, End     time.Time
	// UpstreamStart is zero when no upstream was tried.
	UpstreamStart     time.Time
	BytesIn, BytesOut int64
	Node              netip.AddrPort
	Remote, Local     netip.AddrPort
	// Strings of the config snapshot, which never change.
	RouteID, ServiceID, Consumer string
	RouteName, ServiceName       string
	// ReqBody and RespBody are the bodies as far as they were captured
	// (Capture), when Has*Body; RespMax caps a gzip body's decoding.
	ReqBody, RespBody       []byte
	HasReqBody, HasRespBody bool
	RespMax                 int
	// ConsumerRef is the identified consumer, for conditions decided on
	// the logger's goroutine ($consumer_name).
	ConsumerRef *plugin.Consumer
	drop        bool  // over the body budget: dropped at Push
	charged     int64 // body bytes counted in the budget
	// matchLater and respLater: match and include_resp_body_expr are
	// decided by the logger's goroutine (Logger.decide).
	matchLater, respLater bool
}

// Queue is a logger's bounded queue of records and their pool. Hooks on
// any loop push; one goroutine (the worker) takes.
type Queue struct {
	q     chan *Record
	free  chan *Record
	made  atomic.Int32
	max   int32
	stats *Stats
	wake  func()
}

// Stats count a logger kind's entries (all instances of one plugin), for
// tests and metrics.
type Stats struct {
	// Queued entries were accepted by a queue; Dropped found it full.
	Queued, Dropped atomic.Int64
	// Sent entries were delivered; Failed were given up on after the
	// retries.
	Sent, Failed atomic.Int64
}

func newQueue(max int, stats *Stats, wake func()) *Queue {
	return &Queue{q: make(chan *Record, max), free: make(chan *Record, max), max: int32(max), stats: stats, wake: wake}
}

// get takes a record from the pool, or makes one while the pool has
// fewer than max; nil when all are queued or being formatted.
func (q *Queue) get() *Record {
	select {
	case r := <-q.free:
		return r
	default:
	}
	if q.made.Add(1) > q.max {
		q.made.Add(-1)
		return nil
	}
	return new(Record)
}

// saved are the heads a request's earlier phases copied (plugin.State),
// into the request's scratch (Ctx.Alloc, reused across requests); rec is
// the record taken early to capture bodies into.
type saved struct {
	head, resp []byte
	rec        *Record
}

// SaveHead copies the request head now, for a request with a body: the
// server may stream the body through the buffer the head is in, so the
// log phase could find it overwritten. Call it from access (after the
// consumer's plugins are merged in, so the state stays the plugin's).
func SaveHead(c *plugin.Ctx) {
	if c.Req == nil || c.Req.Framing().Kind == codec.BodyNone {
		return
	}
	h := c.Req.Head()
	b := c.Alloc(len(h))
	copy(b, h)
	plugin.State[saved](c).head = b
}

// SaveResponse copies the upstream's response head, which is valid in
// header_filter but maybe not by the log phase.
func SaveResponse(c *plugin.Ctx) {
	if c.Resp == nil {
		return
	}
	h := c.Resp.Head()
	b := c.Alloc(len(h))
	copy(b, h)
	plugin.State[saved](c).resp = b
}

// Push captures the request into a record and queues it; when every
// record is queued or being formatted it drops the entry and counts it.
// It never blocks, and allocates only while the pool grows (a record and
// its heads' capacity, at most max over the logger's life).
func (q *Queue) Push(c *plugin.Ctx) { q.push(c, false) }

func (q *Queue) push(c *plugin.Ctx, matchLater bool) {
	sv := plugin.State[saved](c)
	r := sv.rec
	sv.rec = nil
	if r == nil {
		if r = q.get(); r != nil {
			r.resetBodies()
		}
	}
	if r == nil || r.drop {
		q.stats.Dropped.Add(1)
		if r != nil {
			q.put(r)
		}
		return
	}
	fill(r, c, sv)
	r.matchLater = matchLater
	select {
	case q.q <- r:
		q.stats.Queued.Add(1)
		q.wake()
	default: // cannot happen: there are no more records than slots
		q.stats.Dropped.Add(1)
	}
}

func fill(r *Record, c *plugin.Ctx, sv *saved) {
	switch {
	case sv.head != nil:
		r.Head = append(r.Head[:0], sv.head...)
	case c.Req != nil:
		r.Head = append(r.Head[:0], c.Req.Head()...)
	default:
		r.Head = r.Head[:0]
	}
	switch {
	case sv.resp != nil:
		r.RespHead = append(r.RespHead[:0], sv.resp...)
	case c.Resp != nil:
		r.RespHead = append(r.RespHead[:0], c.Resp.Head()...)
	default:
		r.RespHead = r.RespHead[:0]
	}
	r.Status = c.Status
	r.Start, r.End, r.UpstreamStart = c.Start, c.End, c.UpstreamStart
	if r.End.IsZero() {
		r.End = time.Now()
	}
	r.BytesIn, r.BytesOut = c.BytesIn, c.BytesOut
	r.Node, r.Remote, r.Local = c.Node, c.Remote, c.Local
	r.RouteID, r.ServiceID = c.RouteID, c.ServiceID
	r.Consumer, r.RouteName, r.ServiceName = "", "", ""
	r.ConsumerRef = c.Consumer
	if c.Consumer != nil {
		r.Consumer = c.Consumer.Username
	}
	if m := c.RouteMeta; m != nil {
		r.RouteName, r.ServiceName = m.Name, m.ServiceName
	}
}

// put returns a record to the pool once the worker has formatted it.
func (q *Queue) put(r *Record) {
	r.releaseBodies()
	select {
	case q.free <- r:
	default:
	}
}
