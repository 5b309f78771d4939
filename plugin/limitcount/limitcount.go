// Package limitcount is APISIX's limit-count: at most count requests per
// key in each time_window seconds (a fixed window), the rest rejected with
// rejected_code; X-RateLimit-Limit, -Remaining and -Reset on the answer.
//
// Counters are local to the node (policy "local"; redis and redis-cluster
// are refused as not supported yet). They live in a sharded table kept
// across config snapshots (Build.Keep): an unrelated change leaves them
// counting, a change of the plugin's own config starts afresh. Routes
// naming one group share one set of counters.
//
// Windows are aligned to multiples of time_window since the Unix epoch
// (APISIX starts a key's window at its first request): a key gets the
// same count per window, and X-RateLimit-Reset counts down to the end of
// the aligned window. The pass path allocates nothing: a key seen before
// costs one shard's read lock and a compare-and-swap.
package limitcount

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/internal/limiter"
)

const name = "limit-count"

// Def is limit-count.
var Def = plugin.Def{
	Name:           name,
	Priority:       1002,
	Schema:         schema,
	MetadataSchema: metadataSchema,
	New:            newLimitCount,
}

// The schema is APISIX's. count is capped at 2^32-1, the width of a
// counter. redis_* settings pass the schema so that New can name them in
// its "not supported yet" error.
const schema = `{
	"type": "object",
	"properties": {
		"count": {"type": "integer", "exclusiveMinimum": 0, "maximum": 4294967295},
		"time_window": {"type": "integer", "exclusiveMinimum": 0},
		"group": {"type": "string"},
		"key": {"type": "string", "default": "remote_addr"},
		"key_type": {"type": "string", "enum": ["var", "var_combination", "constant"], "default": "var"},
		"rejected_code": {"type": "integer", "minimum": 200, "maximum": 599, "default": 503},
		"rejected_msg": {"type": "string", "minLength": 1},
		"policy": {"type": "string", "enum": ["local", "redis", "redis-cluster"], "default": "local"},
		"allow_degradation": {"type": "boolean", "default": false},
		"show_limit_quota_header": {"type": "boolean", "default": true}
	},
	"patternProperties": {"^redis_": {}},
	"required": ["count", "time_window"],
	"additionalProperties": false
}`

const metadataSchema = `{
	"type": "object",
	"properties": {
		"limit_header": {"type": "string", "default": "X-RateLimit-Limit"},
		"remaining_header": {"type": "string", "default": "X-RateLimit-Remaining"},
		"reset_header": {"type": "string", "default": "X-RateLimit-Reset"}
	},
	"additionalProperties": false
}`

type config struct {
	Count            int64  `json:"count"`
	TimeWindow       int64  `json:"time_window"`
	Group            string `json:"group"`
	HasGroup         bool   `json:"-"`
	Key              string `json:"key"`
	KeyType          string `json:"key_type"`
	RejectedCode     int    `json:"rejected_code"`
	RejectedMsg      string `json:"rejected_msg"`
	Policy           string `json:"policy"`
	AllowDegradation bool   `json:"allow_degradation"`
	ShowHeaders      bool   `json:"show_limit_quota_header"`
}

type metadata struct {
	Limit     string `json:"limit_header"`
	Remaining string `json:"remaining_header"`
	Reset     string `json:"reset_header"`
}

// limitCount is one configured instance.
type limitCount struct {
	count    uint32
	window   int64 // seconds
	key      limiter.Key
	code     int
	body     []byte
	headers  bool
	hLimit   []byte
	hRemain  []byte
	hReset   []byte
	countStr []byte

	own   *counters   // the instance's counters, or
	group *groupState // the group's
}

func newLimitCount(b *plugin.Build, data []byte) (any, error) {
	conf := config{Key: "remote_addr", KeyType: "var", RejectedCode: 503, Policy: "local", ShowHeaders: true}
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	if err := limiter.CheckPolicy(data); err != nil {
		return nil, err
	}
	var has struct {
		Group *string `json:"group"`
	}
	_ = plugin.Decode(data, &has)
	conf.HasGroup = has.Group != nil
	key, err := limiter.ParseKey(conf.KeyType, conf.Key)
	if err != nil {
		return nil, err
	}
	md := metadata{Limit: "X-RateLimit-Limit", Remaining: "X-RateLimit-Remaining", Reset: "X-RateLimit-Reset"}
	raw, err := b.Metadata(name)
	if err != nil {
		return nil, fmt.Errorf("plugin_metadata: %w", err)
	}
	if err := plugin.Decode(raw, &md); err != nil {
		return nil, fmt.Errorf("plugin_metadata: %w", err)
	}
	l := &limitCount{
		count:    uint32(conf.Count),
		window:   conf.TimeWindow,
		key:      key,
		code:     conf.RejectedCode,
		body:     limiter.ErrorMsg(conf.RejectedMsg),
		headers:  conf.ShowHeaders,
		hLimit:   []byte(md.Limit),
		hRemain:  []byte(md.Remaining),
		hReset:   []byte(md.Reset),
		countStr: []byte(fmt.Sprint(conf.Count)),
	}
	if !conf.HasGroup {
		l.own = b.Keep(func() any { return newCounters() }).(*counters)
		return l, nil
	}
	g, err := joinGroup(b, conf)
	if err != nil {
		return nil, err
	}
	l.group = g
	return l, nil
}

// counters are the windows of every key of one instance or group.
type counters struct {
	table *limiter.Table[window, *window]
	one   window // the only key, for key_type constant
}

func newCounters() *counters {
	// A key idle for two windows is dropped, at most once per two windows
	// per shard, when a new key arrives.
	return &counters{table: limiter.NewTable[window](2)}
}

// window is one key's count in its current window: the window's index
// (mod 2^32) in the high half, the count in the low half, updated by CAS.
type window struct{ v atomic.Uint64 }

// take counts a request in window win if fewer than limit were counted;
// it returns the count after it, and the window it was counted in (a
// later one when another loop already moved the key on).
func (w *window) take(win int64, limit uint32) (n uint32, at int64, ok bool) {
	for {
		old := w.v.Load()
		ow, oc := uint32(old>>32), uint32(old)
		at = win
		if ow != uint32(win) {
			if d := int32(ow - uint32(win)); d > 0 {
				at = win + int64(d) // the key is in a newer window already
			} else {
				oc = 0 // a new window
			}
		}
		if oc >= limit {
			return oc, at, false
		}
		if w.v.CompareAndSwap(old, uint64(uint32(at))<<32|uint64(oc+1)) {
			return oc + 1, at, true
		}
	}
}

// Idle: the key was last counted two or more windows ago.
func (w *window) Idle(win int64) bool {
	ow := uint32(w.v.Load() >> 32)
	return int32(uint32(win)-ow) >= 2
}

// groupState is a group's counters for one build: adopted from an
// instance that had them in an earlier build, or made on first use.
type groupState struct {
	conf config
	c    atomic.Pointer[counters]
	// boxes are its members' kept boxes: told the group's counters, and
	// held here so that they live as long as the group serves
	// (Build.Keep holds them only weakly).
	boxes []*groupBox
}

func (g *groupState) counters() *counters {
	if c := g.c.Load(); c != nil {
		return c
	}
	if g.c.CompareAndSwap(nil, newCounters()) {
		g.share()
	}
	return g.c.Load()
}

// share tells every instance of the group which counters the group has,
// for the next build to adopt.
func (g *groupState) share() {
	c := g.c.Load()
	for _, box := range g.boxes {
		box.c.CompareAndSwap(nil, c)
	}
}

// groupBox is what an instance in a group keeps across builds: the
// group's counters, once the group had any. Only a snapshot that served
// requests makes counters, so a build that is only a check (the Admin
// API compiles a write before storing it) leaves it as it was.
type groupBox struct{ c atomic.Pointer[counters] }

// joinGroup returns the group's state for this build. Every route of a
// group must configure it identically (APISIX's "group conf mismatched").
// The counters survive a rebuild while any route of the group keeps its
// config: whichever instance is built first, the group adopts the
// counters an unchanged instance had.
func joinGroup(b *plugin.Build, conf config) (*groupState, error) {
	v, _ := b.Shared("limit-count\x00group\x00"+conf.Group, func() (any, error) {
		return &groupState{conf: conf}, nil
	})
	g := v.(*groupState)
	if g.conf != conf {
		return nil, fmt.Errorf("group %q: configured differently elsewhere (every limit-count of a group must be the same)", conf.Group)
	}
	box := b.Keep(func() any { return &groupBox{} }).(*groupBox)
	g.boxes = append(g.boxes, box)
	if c := box.c.Load(); c != nil && g.c.CompareAndSwap(nil, c) {
		g.share()
	} else if g.c.Load() != nil {
		box.c.CompareAndSwap(nil, g.c.Load())
	}
	return g, nil
}

// Access counts the request and rejects it over the limit.
func (l *limitCount) Access(c *plugin.Ctx) plugin.Result {
	now := c.Start
	if now.IsZero() {
		now = time.Now()
	}
	sec := now.Unix()
	win := sec / l.window
	cs := l.own
	if cs == nil {
		cs = l.group.counters()
	}
	var n uint32
	var at int64
	var ok bool
	if l.key.Constant() {
		n, at, ok = cs.one.take(win, l.count)
	} else {
		var kb [128]byte
		e, held := cs.table.Get(l.key.Append(c, kb[:0]), win)
		n, at, ok = e.take(win, l.count)
		held.Release()
	}
	if l.headers {
		remaining := int64(0)
		if ok {
			remaining = int64(l.count - n)
		}
		reset := min((at+1)*l.window-sec, math.MaxInt32)
		c.RespEdits.Set(l.hLimit, l.countStr)
		c.RespEdits.Set(l.hRemain, limiter.Itoa(c, remaining))
		c.RespEdits.Set(l.hReset, limiter.Itoa(c, reset))
	}
	if !ok {
		return plugin.Stop(l.code, l.body)
	}
	return plugin.Continue
}

var _ plugin.Accessor = (*limitCount)(nil)
