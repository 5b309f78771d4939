// Package limitconn is APISIX's limit-conn: at most conn requests (or
// stream connections) per key at once, plus burst more that are delayed;
// beyond that, rejected with rejected_code (a stream is closed).
//
// One body, bound twice: the same enter runs as Access for HTTP and as
// Preread for streams (L4), and the same leave as Log for both. The count
// of a key is one atomic shared by every loop, in a sharded table kept
// across config snapshots; the request's own entry rides in its
// plugin.State from enter to leave, so leaving costs one atomic add.
//
// An HTTP request in the burst waits unit_delay × ⌊(n-1)/conn⌋ (n: its
// key's concurrency with it) through plugin.Pause, without blocking the
// loop; unit_delay starts at default_conn_delay and, unless
// only_use_default_delay, follows the requests' latency as APISIX's does
// (the mean of itself and each finished request's). Streams are not
// delayed: a stream's preread cannot pause.
package limitconn

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/internal/limiter"
)

// Def is limit-conn, for routes and stream routes.
var Def = plugin.Def{
	Name:     "limit-conn",
	Priority: 1003,
	Schema:   schema,
	New:      newLimitConn,
}

// The schema is APISIX's (HTTP); its stream schema is the same less
// policy, rejected_code, rejected_msg and allow_degradation, which a
// stream ignores. redis_* settings pass the schema so that New can name
// them in its "not supported yet" error.
const schema = `{
	"type": "object",
	"properties": {
		"conn": {"type": "integer", "exclusiveMinimum": 0},
		"burst": {"type": "integer", "minimum": 0},
		"default_conn_delay": {"type": "number", "exclusiveMinimum": 0},
		"only_use_default_delay": {"type": "boolean", "default": false},
		"key": {"type": "string"},
		"key_type": {"type": "string", "enum": ["var", "var_combination"], "default": "var"},
		"policy": {"type": "string", "enum": ["redis", "redis-cluster", "local"], "default": "local"},
		"rejected_code": {"type": "integer", "minimum": 200, "maximum": 599, "default": 503},
		"rejected_msg": {"type": "string", "minLength": 1},
		"allow_degradation": {"type": "boolean", "default": false}
	},
	"patternProperties": {"^redis_": {}},
	"required": ["conn", "burst", "default_conn_delay", "key"],
	"additionalProperties": false
}`

type config struct {
	Conn             int64   `json:"conn"`
	Burst            int64   `json:"burst"`
	DefaultConnDelay float64 `json:"default_conn_delay"`
	OnlyDefaultDelay bool    `json:"only_use_default_delay"`
	Key              string  `json:"key"`
	KeyType          string  `json:"key_type"`
	RejectedCode     int     `json:"rejected_code"`
	RejectedMsg      string  `json:"rejected_msg"`
	AllowDegradation bool    `json:"allow_degradation"`
}

type limitConn struct {
	key         limiter.Key
	max, burst  int64
	onlyDefault bool
	code        int
	body        []byte
	st          *state
}

// state outlives snapshots: the counts, and the learnt unit delay.
type state struct {
	counts *limiter.Table[conns, *conns]
	unit   atomic.Int64 // ns
}

// conns is a key's requests in flight.
type conns struct{ n atomic.Int64 }

// Idle: nothing in flight. (Counts go up only under the shard's lock, so
// a sweep cannot drop an entry a request is entering.)
func (k *conns) Idle(int64) bool { return k.n.Load() == 0 }

// sweepEvery bounds how often a shard drops its idle keys (ns).
const sweepEvery = int64(10 * time.Second)

func newLimitConn(b *plugin.Build, data []byte) (any, error) {
	conf := config{KeyType: "var", RejectedCode: 503}
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	if err := limiter.CheckPolicy(data); err != nil {
		return nil, err
	}
	key, err := limiter.ParseKey(conf.KeyType, conf.Key)
	if err != nil {
		return nil, err
	}
	unit := int64(math.Min(conf.DefaultConnDelay*1e9, math.MaxInt64/4))
	st := b.Keep(func() any {
		s := &state{counts: limiter.NewTable[conns](sweepEvery)}
		s.unit.Store(max(unit, 1))
		return s
	}).(*state)
	return &limitConn{
		key:         key,
		max:         conf.Conn,
		burst:       conf.Burst,
		onlyDefault: conf.OnlyDefaultDelay,
		code:        conf.RejectedCode,
		body:        limiter.ErrorMsg(conf.RejectedMsg),
		st:          st,
	}, nil
}

// inFlight is a request's hold on its key, from enter to leave.
type inFlight struct {
	k     *conns
	delay time.Duration
}

// enter counts the request in; over conn+burst it is refused. Within the
// burst, delay is how long it should wait for its turn.
func (l *limitConn) enter(c *plugin.Ctx) (delay time.Duration, ok bool) {
	now := c.Start
	if now.IsZero() {
		now = time.Now()
	}
	var kb [128]byte
	k, held := l.st.counts.Get(l.key.Append(c, kb[:0]), now.UnixNano())
	n := k.n.Add(1)
	if n > l.max+l.burst {
		k.n.Add(-1)
		held.Release()
		return 0, false
	}
	held.Release()
	f := plugin.State[inFlight](c)
	f.k = k
	if n > l.max {
		f.delay = time.Duration(l.st.unit.Load() * ((n - 1) / l.max))
	}
	return f.delay, true
}

// Access is enter for HTTP: a request in the burst pauses for its delay.
func (l *limitConn) Access(c *plugin.Ctx) plugin.Result {
	delay, ok := l.enter(c)
	if !ok {
		return plugin.Stop(l.code, l.body)
	}
	if delay >= time.Millisecond {
		return plugin.Pause(delay)
	}
	return plugin.Continue
}

// Preread is enter for a stream, which is closed when refused and never
// delayed.
func (l *limitConn) Preread(c *plugin.Ctx) plugin.Result {
	if _, ok := l.enter(c); !ok {
		return plugin.Stop(l.code, nil)
	}
	return plugin.Continue
}

// Log counts the request (or stream) out, and for HTTP lets the unit
// delay follow its latency: the upstream's time when it went upstream,
// else its own time less its delay.
func (l *limitConn) Log(c *plugin.Ctx) {
	f := plugin.State[inFlight](c)
	if f.k == nil {
		return
	}
	f.k.n.Add(-1)
	f.k = nil
	if l.onlyDefault || c.Req == nil {
		return
	}
	var latency time.Duration
	switch {
	case !c.UpstreamStart.IsZero() && !c.UpstreamDone.IsZero():
		latency = c.UpstreamDone.Sub(c.UpstreamStart)
	case !c.Start.IsZero():
		latency = time.Since(c.Start) - f.delay
	default:
		return
	}
	if latency > 0 {
		// Racing loops may lose one another's update: it is a running mean.
		l.st.unit.Store((int64(latency) + l.st.unit.Load()) / 2)
	}
}

var (
	_ plugin.Accessor  = (*limitConn)(nil)
	_ plugin.Prereader = (*limitConn)(nil)
	_ plugin.Logger    = (*limitConn)(nil)
)
