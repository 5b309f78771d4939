// Package limitreq is APISIX's limit-req: a leaky bucket per key that
// drains rate requests per second. A request that finds more than burst
// requests' worth in the bucket is rejected with rejected_code; one that
// finds the bucket not empty (within burst) is delayed until its turn —
// without blocking the event loop: the hook returns plugin.Pause and the
// server resumes the request on the loop's timer — unless nodelay.
//
// The bucket is kept as one number per key, the time it will be empty
// (the generic cell rate algorithm, which is the same leaky bucket as
// resty.limit.req's "excess" count), updated by compare-and-swap under
// a shard's read lock: no allocation and no global lock on the pass path.
// Buckets live in the node's memory (policy "local"; redis and
// redis-cluster are refused as not supported yet) and are kept across
// config snapshots that leave the plugin's config alone.
package limitreq

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/internal/limiter"
)

// Def is limit-req.
var Def = plugin.Def{
	Name:     "limit-req",
	Priority: 1001,
	Schema:   schema,
	New:      newLimitReq,
}

// The schema is APISIX's; redis_* settings pass it so that New can name
// them in its "not supported yet" error.
const schema = `{
	"type": "object",
	"properties": {
		"rate": {"type": "number", "exclusiveMinimum": 0},
		"burst": {"type": "number", "minimum": 0},
		"key": {"type": "string"},
		"key_type": {"type": "string", "enum": ["var", "var_combination"], "default": "var"},
		"policy": {"type": "string", "enum": ["redis", "redis-cluster", "local"], "default": "local"},
		"rejected_code": {"type": "integer", "minimum": 200, "maximum": 599, "default": 503},
		"rejected_msg": {"type": "string", "minLength": 1},
		"nodelay": {"type": "boolean", "default": false},
		"allow_degradation": {"type": "boolean", "default": false}
	},
	"patternProperties": {"^redis_": {}},
	"required": ["rate", "burst", "key"],
	"additionalProperties": false
}`

type config struct {
	Rate             float64 `json:"rate"`
	Burst            float64 `json:"burst"`
	Key              string  `json:"key"`
	KeyType          string  `json:"key_type"`
	RejectedCode     int     `json:"rejected_code"`
	RejectedMsg      string  `json:"rejected_msg"`
	NoDelay          bool    `json:"nodelay"`
	AllowDegradation bool    `json:"allow_degradation"`
}

type limitReq struct {
	key      limiter.Key
	interval int64 // ns between requests at rate
	burst    int64 // ns of backlog allowed: burst requests' worth
	nodelay  bool
	code     int
	body     []byte
	buckets  *limiter.Table[bucket, *bucket]
}

// sweepEvery bounds how often a shard drops its drained buckets.
const sweepEvery = int64(10 * time.Second)

func newLimitReq(b *plugin.Build, data []byte) (any, error) {
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
	interval := max(int64(math.Round(1e9/conf.Rate)), 1)
	burst := conf.Burst * float64(interval)
	if burst >= math.MaxInt64/2 {
		return nil, fmt.Errorf("burst: %g requests at rate %g is more backlog than sluice can count", conf.Burst, conf.Rate)
	}
	return &limitReq{
		key:      key,
		interval: interval,
		burst:    int64(burst),
		nodelay:  conf.NoDelay,
		code:     conf.RejectedCode,
		body:     limiter.ErrorMsg(conf.RejectedMsg),
		buckets:  b.Keep(func() any { return limiter.NewTable[bucket](sweepEvery) }).(*limiter.Table[bucket, *bucket]),
	}, nil
}

// bucket is when a key's bucket will be empty (ns on the package clock),
// 0 for a bucket never used.
type bucket struct{ empty atomic.Int64 }

// take adds a request at now: it returns how long the request waits for
// its turn, or false when that is more than burst allows.
func (k *bucket) take(now, interval, burst int64) (time.Duration, bool) {
	for {
		old := k.empty.Load()
		t := now
		if old != 0 {
			t = max(old+interval, now)
		}
		wait := t - now
		if wait > burst {
			return 0, false
		}
		if k.empty.CompareAndSwap(old, t) {
			return time.Duration(wait), true
		}
	}
}

// Idle: the bucket has been empty for an interval, after which it cannot
// be told from a fresh one. Access passes now minus the interval as the
// epoch.
func (k *bucket) Idle(epoch int64) bool { return k.empty.Load() < epoch }

// base is the clock's origin: times are monotonic nanoseconds since.
var base = time.Now()

func clock(c *plugin.Ctx) int64 {
	if c.Start.IsZero() {
		return int64(time.Since(base))
	}
	return int64(c.Start.Sub(base))
}

// Access lets the request through, delays it, or rejects it.
func (l *limitReq) Access(c *plugin.Ctx) plugin.Result {
	now := clock(c)
	var kb [128]byte
	k, held := l.buckets.Get(l.key.Append(c, kb[:0]), now-l.interval)
	wait, ok := k.take(now, l.interval, l.burst)
	held.Release()
	if !ok {
		return plugin.Stop(l.code, l.body)
	}
	if wait >= time.Millisecond && !l.nodelay {
		return plugin.Pause(wait)
	}
	return plugin.Continue
}

var _ plugin.Accessor = (*limitReq)(nil)
