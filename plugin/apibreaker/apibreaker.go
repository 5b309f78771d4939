// Package apibreaker is APISIX's api-breaker: a circuit breaker per
// request host and path. Each unhealthy.failures-th upstream answer with
// an unhealthy status opens the breaker for 2^n seconds (n: how many times
// failures fit in the failure count; at most max_breaker_sec); while open,
// requests are answered with break_response_code at once. Once it has
// passed, requests go through again, and healthy.successes answers with a
// healthy status in a row close the breaker for good.
//
// access decides, log records the upstream's status. The state lives in
// a table kept across config snapshots (Build.Keep). While no path of the
// route has failed, both hooks cost one atomic load: the table is only
// looked at once it has entries.
package apibreaker

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/internal/limiter"
)

// Def is api-breaker.
var Def = plugin.Def{
	Name:     "api-breaker",
	Priority: 1005,
	Schema:   schema,
	New:      newBreaker,
}

const schema = `{
	"type": "object",
	"properties": {
		"break_response_code": {"type": "integer", "minimum": 200, "maximum": 599},
		"break_response_body": {"type": "string"},
		"break_response_headers": {
			"type": "array",
			"items": {
				"type": "object",
				"properties": {
					"key": {"type": "string", "minLength": 1},
					"value": {"type": "string", "minLength": 1}
				},
				"required": ["key", "value"],
				"additionalProperties": false
			}
		},
		"max_breaker_sec": {"type": "integer", "minimum": 3, "default": 300},
		"unhealthy": {
			"type": "object",
			"properties": {
				"http_statuses": {"type": "array", "minItems": 1, "uniqueItems": true,
					"items": {"type": "integer", "minimum": 500, "maximum": 599}, "default": [500]},
				"failures": {"type": "integer", "minimum": 1, "default": 3}
			},
			"additionalProperties": false,
			"default": {"http_statuses": [500], "failures": 3}
		},
		"healthy": {
			"type": "object",
			"properties": {
				"http_statuses": {"type": "array", "minItems": 1, "uniqueItems": true,
					"items": {"type": "integer", "minimum": 200, "maximum": 499}, "default": [200]},
				"successes": {"type": "integer", "minimum": 1, "default": 3}
			},
			"additionalProperties": false,
			"default": {"http_statuses": [200], "successes": 3}
		}
	},
	"required": ["break_response_code"],
	"additionalProperties": false
}`

type config struct {
	Code    int     `json:"break_response_code"`
	Body    *string `json:"break_response_body"`
	Headers []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"break_response_headers"`
	MaxBreakerSec int64 `json:"max_breaker_sec"`
	Unhealthy     struct {
		Statuses []int `json:"http_statuses"`
		Failures int64 `json:"failures"`
	} `json:"unhealthy"`
	Healthy struct {
		Statuses  []int `json:"http_statuses"`
		Successes int64 `json:"successes"`
	} `json:"healthy"`
}

type breaker struct {
	code      int
	body      []byte // nil: the server's default; headers only go with a body
	headers   []header
	maxSec    int64
	failures  int64
	successes int64
	unhealthy statuses
	healthy   statuses
	host, uri plugin.Var
	st        *state
}

type header struct {
	name  []byte
	value limiter.Template
}

// statuses is a set of status codes.
type statuses [10]uint64

func (s *statuses) add(code int) { s[code/64] |= 1 << (code % 64) }
func (s *statuses) has(code int) bool {
	return code > 0 && code < 640 && s[code/64]&(1<<(code%64)) != 0
}
func setOf(codes []int) (s statuses) {
	for _, c := range codes {
		s.add(c)
	}
	return
}

// maxPaths bounds the paths a route's breaker tracks (APISIX's are in a
// fixed-size shared dict): past it, paths whose breaker is long closed
// are dropped, and a new failing path is not tracked while none can be.
const maxPaths = 10000

// state is what a route's breaker knows, by host and path.
type state struct {
	n  atomic.Int32 // len(paths), read without the lock
	mu sync.RWMutex
	m  map[string]*path
}

// path is one host and path's breaker.
type path struct {
	unhealthy int64 // unhealthy answers since it was last healthy
	healthy   int64 // healthy answers in a row since the last unhealthy one
	tripped   int64 // unix seconds of the last trip, 0 for none
}

func newBreaker(b *plugin.Build, data []byte) (any, error) {
	var conf config
	conf.MaxBreakerSec = 300
	conf.Unhealthy.Statuses, conf.Unhealthy.Failures = []int{500}, 3
	conf.Healthy.Statuses, conf.Healthy.Successes = []int{200}, 3
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	br := &breaker{
		code:      conf.Code,
		maxSec:    conf.MaxBreakerSec,
		failures:  conf.Unhealthy.Failures,
		successes: conf.Healthy.Successes,
		unhealthy: setOf(conf.Unhealthy.Statuses),
		healthy:   setOf(conf.Healthy.Statuses),
		host:      plugin.ParseVar("host"),
		uri:       plugin.ParseVar("uri"),
		st:        b.Keep(func() any { return &state{m: map[string]*path{}} }).(*state),
	}
	if conf.Body != nil {
		br.body = []byte(*conf.Body)
		for i, h := range conf.Headers {
			if !limiter.ValidHeaderName(h.Key) {
				return nil, fmt.Errorf("break_response_headers[%d].key: %q is not a header name", i, h.Key)
			}
			br.headers = append(br.headers, header{name: []byte(h.Key), value: limiter.ParseTemplate(h.Value)})
		}
	} else if len(conf.Headers) > 0 {
		return nil, fmt.Errorf("break_response_headers: only sent with a break_response_body, which is not set")
	}
	return br, nil
}

// key is the request's host and path, as APISIX keys its breakers.
func (br *breaker) key(c *plugin.Ctx, dst []byte) []byte {
	if h, ok := c.Get(&br.host); ok {
		dst = append(dst, h...)
	}
	if u, ok := c.Get(&br.uri); ok {
		dst = append(dst, u...)
	}
	return dst
}

func unix(c *plugin.Ctx) int64 {
	if c.Start.IsZero() {
		return time.Now().Unix()
	}
	return c.Start.Unix()
}

// Access answers for the upstream while its breaker is open.
func (br *breaker) Access(c *plugin.Ctx) plugin.Result {
	if br.st.n.Load() == 0 {
		return plugin.Continue
	}
	var kb [256]byte
	key := br.key(c, kb[:0])
	br.st.mu.RLock()
	p := br.st.m[string(key)]
	var unhealthy, tripped int64
	if p != nil {
		unhealthy, tripped = p.unhealthy, p.tripped
	}
	br.st.mu.RUnlock()
	if tripped == 0 || !br.open(unhealthy, tripped, unix(c)) {
		return plugin.Continue
	}
	if br.body == nil {
		return plugin.Stop(br.code, nil)
	}
	for i := range br.headers {
		h := &br.headers[i]
		c.RespEdits.Add(h.name, h.value.Render(c))
	}
	return plugin.Stop(br.code, br.body)
}

// open reports whether a breaker that tripped at tripped (after
// unhealthy failures) still holds at now, in APISIX's whole seconds.
func (br *breaker) open(unhealthy, tripped, now int64) bool {
	times := max(unhealthy/br.failures, 1)
	hold := br.maxSec
	if times < 62 {
		hold = min(int64(1)<<times, br.maxSec)
	}
	return tripped+hold >= now
}

// Log records the upstream's answer.
func (br *breaker) Log(c *plugin.Ctx) {
	status, ok := upstreamStatus(c)
	if !ok {
		return
	}
	switch {
	case br.unhealthy.has(status):
		br.failed(c)
	case br.healthy.has(status) && br.st.n.Load() != 0:
		br.succeeded(c)
	}
}

// upstreamStatus is the status the upstream answered with; when the
// upstream failed (refused, reset, timed out) the gateway's 502 or 504, as
// nginx's $upstream_status has it. None for a request that did not go
// upstream.
func upstreamStatus(c *plugin.Ctx) (int, bool) {
	if c.Resp != nil {
		return c.Status, true
	}
	if !c.UpstreamStart.IsZero() && c.Status >= 500 {
		return c.Status, true
	}
	return 0, false
}

func (br *breaker) failed(c *plugin.Ctx) {
	var kb [256]byte
	key := br.key(c, kb[:0])
	now := unix(c)
	st := br.st
	st.mu.Lock()
	defer st.mu.Unlock()
	p := st.m[string(key)]
	if p == nil {
		if len(st.m) >= maxPaths {
			for k, q := range st.m {
				if q.tripped+br.maxSec < now {
					delete(st.m, k)
				}
			}
			if len(st.m) >= maxPaths {
				return
			}
		}
		p = &path{}
		st.m[string(key)] = p
		st.n.Store(int32(len(st.m)))
	}
	p.unhealthy++
	p.healthy = 0
	if p.unhealthy%br.failures == 0 {
		p.tripped = now
	}
}

func (br *breaker) succeeded(c *plugin.Ctx) {
	var kb [256]byte
	key := br.key(c, kb[:0])
	st := br.st
	st.mu.RLock()
	p := st.m[string(key)]
	st.mu.RUnlock()
	if p == nil {
		return // a path that never failed: nothing to heal
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if p = st.m[string(key)]; p == nil {
		return
	}
	p.healthy++
	if p.healthy >= br.successes {
		delete(st.m, string(key))
		st.n.Store(int32(len(st.m)))
	}
}

var (
	_ plugin.Accessor = (*breaker)(nil)
	_ plugin.Logger   = (*breaker)(nil)
)
