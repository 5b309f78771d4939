// Package limitcount is APISIX's limit-count: at most count requests per
// key in each time_window seconds, the rest rejected with rejected_code;
// X-RateLimit-Limit, -Remaining and -Reset on the answer.
//
// Windows are fixed (the default) or sliding (window_type "sliding": the
// previous window's count, weighted by how much of it the sliding window
// still covers, counts too, as APISIX's sliding window does). count and
// time_window may be strings of variables resolved per request
// ("${http_x_quota ?? 100}"), and rules (APISIX 3.16) apply several
// limits in turn, each keyed by its own variables and skipped when they
// are all absent.
//
// Counters are local to the node (policy "local"; redis, redis-cluster
// and redis-sentinel are refused as not supported yet). They live in
// sharded tables kept across config snapshots (Build.Keep): an unrelated
// change leaves them counting, a change of the plugin's own config starts
// afresh. Routes naming one group share one set of counters.
//
// Windows are aligned to multiples of time_window since the Unix epoch
// (APISIX starts a fixed window at a key's first request): a key gets the
// same count per window, and X-RateLimit-Reset counts down to the end of
// the aligned window, in whole seconds. The pass path allocates nothing: a
// key seen before costs one shard's read lock and a compare-and-swap (a
// sliding window, a short per-key lock).
package limitcount

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
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

// The schema is APISIX's (3.18). A number is capped at 2^32-1, the width
// of a counter. Redis settings (redis_*, sentinel_*, key_ttl) pass the
// schema so that New can name them in its "not supported yet" error.
const schema = `{
	"type": "object",
	"properties": {
		"count": {"oneOf": [{"type": "integer", "exclusiveMinimum": 0, "maximum": 4294967295}, {"type": "string"}]},
		"time_window": {"oneOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "string"}]},
		"window_type": {"type": "string", "enum": ["fixed", "sliding"], "default": "fixed"},
		"rules": {
			"type": "array",
			"minItems": 1,
			"items": {
				"type": "object",
				"properties": {
					"count": {"oneOf": [{"type": "integer", "exclusiveMinimum": 0, "maximum": 4294967295}, {"type": "string"}]},
					"time_window": {"oneOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "string"}]},
					"key": {"type": "string"},
					"header_prefix": {"type": "string"}
				},
				"required": ["count", "time_window", "key"],
				"additionalProperties": false
			}
		},
		"group": {"type": "string"},
		"key": {"type": "string", "default": "remote_addr"},
		"key_type": {"type": "string", "enum": ["var", "var_combination", "constant"], "default": "var"},
		"rejected_code": {"type": "integer", "minimum": 200, "maximum": 599, "default": 503},
		"rejected_msg": {"type": "string", "minLength": 1},
		"policy": {"type": "string", "enum": ["local", "redis", "redis-cluster", "redis-sentinel"], "default": "local"},
		"allow_degradation": {"type": "boolean", "default": false},
		"show_limit_quota_header": {"type": "boolean", "default": true},
		"sync_interval": {"type": "number"}
	},
	"patternProperties": {"^redis_": {}, "^sentinel_": {}},
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
	Count            json.RawMessage `json:"count,omitempty"`
	TimeWindow       json.RawMessage `json:"time_window,omitempty"`
	WindowType       string          `json:"window_type"`
	Rules            []ruleConfig    `json:"rules,omitempty"`
	Group            *string         `json:"group,omitempty"`
	Key              string          `json:"key"`
	KeyType          string          `json:"key_type"`
	RejectedCode     int             `json:"rejected_code"`
	RejectedMsg      string          `json:"rejected_msg"`
	Policy           string          `json:"policy"`
	AllowDegradation bool            `json:"allow_degradation"`
	ShowHeaders      bool            `json:"show_limit_quota_header"`
	SyncInterval     *float64        `json:"sync_interval,omitempty"`
}

type ruleConfig struct {
	Count        json.RawMessage `json:"count"`
	TimeWindow   json.RawMessage `json:"time_window"`
	Key          string          `json:"key"`
	HeaderPrefix *string         `json:"header_prefix,omitempty"`
}

type metadata struct {
	Limit     string `json:"limit_header"`
	Remaining string `json:"remaining_header"`
	Reset     string `json:"reset_header"`
}

// limitCount is one configured instance.
type limitCount struct {
	rules   []*rule
	byRules bool // configured with rules: a request no rule applies to is an error, as in APISIX
	sliding bool
	code    int
	body    []byte
	headers bool
	degrade bool

	own   *kept       // the instance's counters, or
	group *groupState // the group's
}

// rule is one limit: the top-level count/time_window/key, or one of rules.
type rule struct {
	count, window limiter.Num
	key           limiter.Key      // the top-level key (absent variables: the client address)
	tpl           limiter.Template // a rule's key (all absent: the rule is skipped)
	hLimit        []byte
	hRemain       []byte
	hReset        []byte
	countStr      []byte // the static count's text
}

func newLimitCount(b *plugin.Build, data []byte) (any, error) {
	conf := config{Key: "remote_addr", KeyType: "var", WindowType: "fixed", RejectedCode: 503, Policy: "local", ShowHeaders: true}
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	if err := limiter.CheckPolicy(data); err != nil {
		return nil, err
	}
	switch {
	case len(conf.Rules) > 0 && (conf.Count != nil || conf.TimeWindow != nil):
		return nil, errors.New("count/time_window and rules cannot be specified at the same time")
	case len(conf.Rules) > 0 && conf.Group != nil:
		return nil, errors.New("group and rules cannot be specified at the same time")
	case len(conf.Rules) == 0 && conf.Count == nil:
		return nil, errors.New("missing property 'count' (count and time_window, or rules)")
	case len(conf.Rules) == 0 && conf.TimeWindow == nil:
		return nil, errors.New("missing property 'time_window' (count and time_window, or rules)")
	}
	if si := conf.SyncInterval; si != nil && *si != -1 && *si < 0.1 {
		return nil, fmt.Errorf("sync_interval: want -1 or at least 0.1, got %g", *si)
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
		sliding: conf.WindowType == "sliding",
		code:    conf.RejectedCode,
		body:    limiter.ErrorMsg(conf.RejectedMsg),
		headers: conf.ShowHeaders,
		degrade: conf.AllowDegradation,
		byRules: len(conf.Rules) > 0,
	}
	if !l.byRules {
		r, err := newRule("", conf.Count, conf.TimeWindow, md, "")
		if err != nil {
			return nil, err
		}
		if r.key, err = limiter.ParseKey(conf.KeyType, conf.Key); err != nil {
			return nil, err
		}
		l.rules = []*rule{r}
	}
	keys := map[string]bool{}
	for i, rc := range conf.Rules {
		at := fmt.Sprintf("rules[%d]", i)
		if keys[rc.Key] {
			return nil, fmt.Errorf("%s: duplicate key %q in rules", at, rc.Key)
		}
		keys[rc.Key] = true
		prefix := strconv.Itoa(i + 1)
		if rc.HeaderPrefix != nil {
			prefix = *rc.HeaderPrefix
		}
		r, err := newRule(at+".", rc.Count, rc.TimeWindow, md, prefix)
		if err != nil {
			return nil, err
		}
		r.tpl = limiter.ParseTemplate(rc.Key)
		if r.tpl.Vars() == 0 {
			return nil, fmt.Errorf("%s.key: %q names no $variable", at, rc.Key)
		}
		l.rules = append(l.rules, r)
	}
	if conf.Group == nil {
		l.own = b.Keep(func() any { return newKept(len(l.rules)) }).(*kept)
		return l, nil
	}
	canon, _ := json.Marshal(conf)
	g, err := joinGroup(b, *conf.Group, string(canon))
	if err != nil {
		return nil, err
	}
	l.group = g
	return l, nil
}

func newRule(at string, count, window json.RawMessage, md metadata, prefix string) (*rule, error) {
	r := &rule{}
	var err error
	if r.count, err = limiter.ParseNum(count); err != nil {
		return nil, fmt.Errorf("%scount: %v", at, err)
	}
	if r.window, err = limiter.ParseNum(window); err != nil {
		return nil, fmt.Errorf("%stime_window: %v", at, err)
	}
	if n, ok := r.count.Static(); ok {
		if n <= 0 || n > math.MaxUint32 {
			return nil, fmt.Errorf("%scount: want 1 to %d, got %d", at, uint32(math.MaxUint32), n)
		}
		r.countStr = []byte(strconv.FormatInt(n, 10))
	}
	if n, ok := r.window.Static(); ok && n <= 0 {
		return nil, fmt.Errorf("%stime_window: want more than 0, got %d", at, n)
	}
	// A rule's headers have its prefix before "RateLimit-", as APISIX
	// inserts it (X-1-RateLimit-Limit), when the name has that part.
	h := func(base string) []byte {
		if prefix != "" {
			base = strings.Replace(base, "RateLimit-", prefix+"-RateLimit-", 1)
		}
		return []byte(base)
	}
	r.hLimit, r.hRemain, r.hReset = h(md.Limit), h(md.Remaining), h(md.Reset)
	return r, nil
}

// kept are an instance's (or a group's) counters, one per rule.
type kept struct{ rules []*counters }

func newKept(n int) *kept {
	k := &kept{rules: make([]*counters, n)}
	for i := range k.rules {
		k.rules[i] = newCounters()
	}
	return k
}

// counters are the windows of every key of one rule.
type counters struct {
	fixed   *limiter.Table[window, *window]
	sliding *limiter.Table[slide, *slide]
	one     window // the only key, for key_type constant
	oneS    slide
}

func newCounters() *counters {
	// A key idle for two windows is dropped, at most once per two seconds
	// per shard, when a new key arrives. The tables' clock is seconds.
	return &counters{fixed: limiter.NewTable[window](2), sliding: limiter.NewTable[slide](2)}
}

// window is one key's count in its current fixed window: the window's
// index (mod 2^32) in the high half, the count in the low half, updated by
// CAS; size is the window's length, for Idle.
type window struct {
	v    atomic.Uint64
	size atomic.Int64
}

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

// Idle: the key was last counted two or more windows before sec.
func (w *window) Idle(sec int64) bool {
	size := w.size.Load()
	if size <= 0 {
		return true
	}
	ow := uint32(w.v.Load() >> 32)
	return int32(uint32(sec/size)-ow) >= 2
}

// slide is one key's sliding window: the counts of its current window
// (idx) and of the one before, under a lock of its own. Idle reads them
// under the table shard's write lock, which no taker holds then.
type slide struct {
	mu        sync.Mutex
	idx, size int64
	cur, prev uint64
}

// take counts a request at now (ns) if the sliding estimate stays under
// limit: the current window's count plus the previous window's, weighted
// by the share of it the sliding window still covers (the previous count
// capped at limit). It returns what is left and the seconds to the end of
// the current window (on a rejection, until the estimate lets one more
// in).
func (s *slide) take(now, size int64, limit uint64) (remaining int64, reset float64, ok bool) {
	sizeNS := size * int64(time.Second)
	win := now / sizeNS
	left := float64(sizeNS-now%sizeNS) / 1e9 // seconds to the window's end
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idx != win || s.size != size {
		if s.idx == win-1 && s.size == size {
			s.prev = s.cur
		} else {
			s.prev = 0
		}
		s.cur, s.idx, s.size = 0, win, size
	}
	last := float64(min(s.prev, limit))
	rate := last / float64(size)
	if est := rate*left + float64(s.cur); s.cur >= limit || est >= float64(limit) {
		if s.cur >= limit || rate == 0 {
			return 0, left, false
		}
		return 0, max(left-float64(limit-s.cur)/rate, 0), false
	}
	s.cur++
	return max(int64(math.Floor(float64(limit)-float64(s.cur)-rate*left)), 0), left, true
}

// Idle: the key was last counted two or more windows before sec.
func (s *slide) Idle(sec int64) bool { return s.size <= 0 || (s.idx+2)*s.size <= sec }

// groupState is a group's counters for one build: adopted from an
// instance that had them in an earlier build, or made on first use.
type groupState struct {
	conf string // the members' config (less nothing: all must match)
	c    atomic.Pointer[kept]
	// boxes are its members' kept boxes: told the group's counters, and
	// held here so that they live as long as the group serves
	// (Build.Keep holds them only weakly).
	boxes []*groupBox
}

func (g *groupState) counters() *kept {
	if c := g.c.Load(); c != nil {
		return c
	}
	if g.c.CompareAndSwap(nil, newKept(1)) {
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
type groupBox struct{ c atomic.Pointer[kept] }

// joinGroup returns the group's state for this build. Every route of a
// group must configure it identically (APISIX's "group conf mismatched").
// The counters survive a rebuild while any route of the group keeps its
// config: whichever instance is built first, the group adopts the
// counters an unchanged instance had.
func joinGroup(b *plugin.Build, group, conf string) (*groupState, error) {
	v, _ := b.Shared("limit-count\x00group\x00"+group, func() (any, error) {
		return &groupState{conf: conf}, nil
	})
	g := v.(*groupState)
	if g.conf != conf {
		return nil, fmt.Errorf("group %q: configured differently elsewhere (every limit-count of a group must be the same)", group)
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

// Access counts the request against each limit, and rejects it over one.
func (l *limitCount) Access(c *plugin.Ctx) plugin.Result {
	now := c.Start
	if now.IsZero() {
		now = time.Now()
	}
	k := l.own
	if k == nil {
		k = l.group.counters()
	}
	applied := 0
	for i, r := range l.rules {
		var kb [128]byte
		key := kb[:0]
		constant := false
		if l.byRules {
			var n int
			if key, n = r.tpl.Append(c, key); n == 0 {
				continue // no variable of its key: the rule does not apply
			}
		} else if constant = r.key.Constant(); !constant {
			key = r.key.Append(c, key)
		}
		count, ok1 := r.count.Get(c)
		win, ok2 := r.window.Get(c)
		if !ok1 || !ok2 || count <= 0 || count > math.MaxUint32 || win <= 0 {
			return l.broken()
		}
		if _, static := r.window.Static(); !static {
			// Windows of different lengths count apart.
			key = strconv.AppendInt(append(key, 0), win, 10)
			constant = false
		}
		applied++
		if res, stop := l.take(c, r, k.rules[i], key, constant, now, count, win); stop {
			return res
		}
	}
	if applied == 0 && l.byRules {
		return l.broken()
	}
	return plugin.Continue
}

// broken answers a request whose limits cannot be worked out (a number
// whose variables are not one, no rule applying): 500, or on with
// allow_degradation, as APISIX does.
func (l *limitCount) broken() plugin.Result {
	if l.degrade {
		return plugin.Continue
	}
	return plugin.Stop(500, nil)
}

// take counts the request in one rule's counters.
func (l *limitCount) take(c *plugin.Ctx, r *rule, cs *counters, key []byte, constant bool, now time.Time, count, win int64) (plugin.Result, bool) {
	var remaining, reset int64
	var ok bool
	if l.sliding {
		e := &cs.oneS
		var held limiter.Held
		if !constant {
			e, held = cs.sliding.Get(key, now.Unix())
		}
		var left float64
		remaining, left, ok = e.take(now.UnixNano(), win, uint64(count))
		held.Release()
		reset = int64(math.Ceil(left))
	} else {
		sec := now.Unix()
		idx := sec / win
		e := &cs.one
		var held limiter.Held
		if !constant {
			e, held = cs.fixed.Get(key, sec)
		}
		e.size.Store(win)
		n, at, took := e.take(idx, uint32(count))
		held.Release()
		ok = took
		if ok {
			remaining = count - int64(n)
		}
		reset = min((at+1)*win-sec, math.MaxInt32)
	}
	if l.headers {
		cnt := r.countStr
		if cnt == nil {
			cnt = limiter.Itoa(c, count)
		}
		c.RespEdits.Set(r.hLimit, cnt)
		c.RespEdits.Set(r.hRemain, limiter.Itoa(c, remaining))
		c.RespEdits.Set(r.hReset, limiter.Itoa(c, reset))
	}
	if !ok {
		return plugin.Stop(l.code, l.body), true
	}
	return plugin.Continue, false
}

var _ plugin.Accessor = (*limitCount)(nil)
