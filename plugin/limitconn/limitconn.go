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
//
// conn and burst may be strings of variables resolved per request
// ("${http_x_conn ?? 5}"), and rules (APISIX 3.16) apply several limits
// in turn, each keyed by its own variables; a request holds one count per
// rule that applied, released in its log phase.
package limitconn

import (
	"encoding/json"
	"errors"
	"fmt"
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

// The schema is APISIX's (HTTP, 3.18); its stream schema is the same less
// policy, rejected_code, rejected_msg and allow_degradation, which a
// stream ignores. Redis settings (redis_*, key_ttl) pass the schema so
// that New can name them in its "not supported yet" error.
const schema = `{
	"type": "object",
	"properties": {
		"conn": {"oneOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "string"}]},
		"burst": {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]},
		"default_conn_delay": {"type": "number", "exclusiveMinimum": 0},
		"only_use_default_delay": {"type": "boolean", "default": false},
		"key": {"type": "string"},
		"key_type": {"type": "string", "enum": ["var", "var_combination"], "default": "var"},
		"policy": {"type": "string", "enum": ["redis", "redis-cluster", "local"], "default": "local"},
		"rejected_code": {"type": "integer", "minimum": 200, "maximum": 599, "default": 503},
		"rejected_msg": {"type": "string", "minLength": 1},
		"allow_degradation": {"type": "boolean", "default": false},
		"rules": {
			"type": "array",
			"minItems": 1,
			"maxItems": 16,
			"items": {
				"type": "object",
				"properties": {
					"conn": {"oneOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "string"}]},
					"burst": {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]},
					"key": {"type": "string"}
				},
				"required": ["conn", "burst", "key"],
				"additionalProperties": false
			}
		},
		"key_ttl": {}
	},
	"patternProperties": {"^redis_": {}},
	"required": ["default_conn_delay"],
	"additionalProperties": false
}`

type config struct {
	Conn             json.RawMessage `json:"conn"`
	Burst            json.RawMessage `json:"burst"`
	DefaultConnDelay float64         `json:"default_conn_delay"`
	OnlyDefaultDelay bool            `json:"only_use_default_delay"`
	Key              *string         `json:"key"`
	KeyType          string          `json:"key_type"`
	RejectedCode     int             `json:"rejected_code"`
	RejectedMsg      string          `json:"rejected_msg"`
	AllowDegradation bool            `json:"allow_degradation"`
	Rules            []struct {
		Conn  json.RawMessage `json:"conn"`
		Burst json.RawMessage `json:"burst"`
		Key   string          `json:"key"`
	} `json:"rules"`
}

type limitConn struct {
	rules       []connRule
	byRules     bool // a rule whose numbers do not resolve is skipped; none applying is an error
	onlyDefault bool
	code        int
	body        []byte
	degrade     bool
	st          *state
}

// connRule is one limit: the top-level conn/burst/key, or one of rules.
type connRule struct {
	conn, burst limiter.Num
	key         limiter.Key      // the top-level key (absent: the client address)
	tpl         limiter.Template // a rule's key (all absent: the rule is skipped)
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

// maxRules bounds rules (the schema's maxItems): a request's holds ride in
// a fixed array.
const maxRules = 16

func newLimitConn(b *plugin.Build, data []byte) (any, error) {
	conf := config{KeyType: "var", RejectedCode: 503}
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	if err := limiter.CheckPolicy(data); err != nil {
		return nil, err
	}
	l := &limitConn{
		byRules:     len(conf.Rules) > 0,
		onlyDefault: conf.OnlyDefaultDelay,
		code:        conf.RejectedCode,
		body:        limiter.ErrorMsg(conf.RejectedMsg),
		degrade:     conf.AllowDegradation,
	}
	if l.byRules {
		if conf.Conn != nil || conf.Burst != nil || conf.Key != nil {
			return nil, errors.New("conn, burst and key cannot be set with rules (each rule has its own)")
		}
	} else {
		for _, f := range []struct {
			name string
			set  bool
		}{{"conn", conf.Conn != nil}, {"burst", conf.Burst != nil}, {"key", conf.Key != nil}} {
			if !f.set {
				return nil, fmt.Errorf("missing property '%s' (conn, burst and key, or rules)", f.name)
			}
		}
		r, err := newRule("", conf.Conn, conf.Burst)
		if err != nil {
			return nil, err
		}
		if r.key, err = limiter.ParseKey(conf.KeyType, *conf.Key); err != nil {
			return nil, err
		}
		l.rules = append(l.rules, r)
	}
	for i, rc := range conf.Rules {
		at := fmt.Sprintf("rules[%d].", i)
		r, err := newRule(at, rc.Conn, rc.Burst)
		if err != nil {
			return nil, err
		}
		r.tpl = limiter.ParseTemplate(rc.Key)
		if r.tpl.Vars() == 0 {
			return nil, fmt.Errorf("%skey: %q names no $variable", at, rc.Key)
		}
		l.rules = append(l.rules, r)
	}
	unit := int64(math.Min(conf.DefaultConnDelay*1e9, math.MaxInt64/4))
	l.st = b.Keep(func() any {
		s := &state{counts: limiter.NewTable[conns](sweepEvery)}
		s.unit.Store(max(unit, 1))
		return s
	}).(*state)
	return l, nil
}

func newRule(at string, conn, burst json.RawMessage) (connRule, error) {
	var r connRule
	var err error
	if r.conn, err = limiter.ParseNum(conn); err != nil {
		return r, fmt.Errorf("%sconn: %v", at, err)
	}
	if r.burst, err = limiter.ParseNum(burst); err != nil {
		return r, fmt.Errorf("%sburst: %v", at, err)
	}
	if n, ok := r.conn.Static(); ok && n <= 0 {
		return r, fmt.Errorf("%sconn: want more than 0, got %d", at, n)
	}
	if n, ok := r.burst.Static(); ok && n < 0 {
		return r, fmt.Errorf("%sburst: want 0 or more, got %d", at, n)
	}
	return r, nil
}

// inFlight is a request's holds on its keys (one per rule that counted
// it), from enter to leave.
type inFlight struct {
	k     [maxRules]*conns
	n     int
	delay time.Duration
}

// enter counts the request in under each rule; over one's conn+burst it
// is refused (the holds taken so far are kept until leave, as APISIX
// does). Within the bursts, delay is how long it should wait for its turn.
// broken: the limits could not be worked out.
func (l *limitConn) enter(c *plugin.Ctx) (delay time.Duration, ok, broken bool) {
	now := c.Start
	if now.IsZero() {
		now = time.Now()
	}
	f := plugin.State[inFlight](c)
	applied := 0
	for i := range l.rules {
		r := &l.rules[i]
		conn, ok1 := r.conn.Get(c)
		burst, ok2 := r.burst.Get(c)
		if !ok1 || !ok2 || conn <= 0 || burst < 0 {
			if l.byRules {
				continue // a rule whose numbers do not resolve is skipped
			}
			return 0, false, true
		}
		var kb [128]byte
		key := kb[:0]
		if l.byRules {
			key = append(key, byte(i))
			var n int
			if key, n = r.tpl.Append(c, key); n == 0 {
				continue
			}
		} else {
			key = r.key.Append(c, key)
		}
		applied++
		k, held := l.st.counts.Get(key, now.UnixNano())
		n := k.n.Add(1)
		if n > conn+burst {
			k.n.Add(-1)
			held.Release()
			return 0, false, false
		}
		held.Release()
		f.k[f.n] = k
		f.n++
		if n > conn {
			d := time.Duration(l.st.unit.Load() * ((n - 1) / conn))
			f.delay += d
		}
	}
	if applied == 0 && l.byRules {
		return 0, false, true
	}
	return f.delay, true, false
}

// Access is enter for HTTP: a request in the burst pauses for its delay;
// one whose limits cannot be worked out gets 500, or goes on with
// allow_degradation, as in APISIX.
func (l *limitConn) Access(c *plugin.Ctx) plugin.Result {
	delay, ok, broken := l.enter(c)
	switch {
	case broken && l.degrade:
		return plugin.Continue
	case broken:
		return plugin.Stop(500, nil)
	case !ok:
		return plugin.Stop(l.code, l.body)
	case delay >= time.Millisecond:
		return plugin.Pause(delay)
	}
	return plugin.Continue
}

// Preread is enter for a stream, which is closed when refused and never
// delayed.
func (l *limitConn) Preread(c *plugin.Ctx) plugin.Result {
	if _, ok, broken := l.enter(c); !ok && !(broken && l.degrade) {
		return plugin.Stop(l.code, nil)
	}
	return plugin.Continue
}

// Log counts the request (or stream) out, and for HTTP lets the unit
// delay follow its latency: the upstream's time when it went upstream,
// else its own time less its delay.
func (l *limitConn) Log(c *plugin.Ctx) {
	f := plugin.State[inFlight](c)
	if f.n == 0 {
		return
	}
	for i := range f.n {
		f.k[i].n.Add(-1)
		f.k[i] = nil
	}
	f.n = 0
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
