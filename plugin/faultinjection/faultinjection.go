// Package faultinjection is APISIX's fault-injection: in the rewrite
// phase, abort a share of requests with a status, body and headers,
// and/or delay a share of them, each optionally only for requests that
// match vars expressions.
//
// A delay never blocks the event loop: the hook returns plugin.Pause and
// the server resumes the request, with the next hook, on the loop's timer.
// Since a paused request resumes past the hook that paused it, a request
// that is both delayed and aborted is aborted by the plugin's access hook
// (which only a config with both abort and delay has): after the delay,
// as in APISIX, but after the other plugins' rewrite hooks too.
package faultinjection

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/internal/limiter"
	"github.com/sluice-gateway/sluice/route"
)

// Def is fault-injection.
var Def = plugin.Def{
	Name:     "fault-injection",
	Priority: 11000,
	Schema:   schema,
	New:      newFault,
}

// The schema is APISIX's, closed to unknown fields.
const schema = `{
	"type": "object",
	"properties": {
		"abort": {
			"type": "object",
			"properties": {
				"http_status": {"type": "integer", "minimum": 200},
				"body": {"type": "string", "minLength": 0},
				"headers": {
					"type": "object",
					"minProperties": 1,
					"patternProperties": {"^[^:]+$": {"oneOf": [{"type": "string"}, {"type": "number"}]}},
					"additionalProperties": false
				},
				"percentage": {"type": "integer", "minimum": 0, "maximum": 100},
				"vars": {"type": "array", "maxItems": 20, "items": {"type": "array"}}
			},
			"required": ["http_status"],
			"additionalProperties": false
		},
		"delay": {
			"type": "object",
			"properties": {
				"duration": {"type": "number", "minimum": 0},
				"percentage": {"type": "integer", "minimum": 0, "maximum": 100},
				"vars": {"type": "array", "maxItems": 20, "items": {"type": "array"}}
			},
			"required": ["duration"],
			"additionalProperties": false
		}
	},
	"minProperties": 1,
	"additionalProperties": false
}`

type config struct {
	Abort *struct {
		Status     int                        `json:"http_status"`
		Body       *string                    `json:"body"`
		Headers    map[string]json.RawMessage `json:"headers"`
		Percentage *int                       `json:"percentage"`
		Vars       [][]any                    `json:"vars"`
	} `json:"abort"`
	Delay *struct {
		Duration   float64 `json:"duration"`
		Percentage *int    `json:"percentage"`
		Vars       [][]any `json:"vars"`
	} `json:"delay"`
}

// share is who a fault applies to: a percentage of the requests that
// match any of the vars expressions.
type share struct {
	pct  int // of 100; 100 when not configured
	vars []*route.Expr
	any  bool // vars configured: one must match (none, for an empty list)
}

func (s *share) hit(c *plugin.Ctx) bool {
	if s.any && !s.match(c) {
		return false
	}
	return s.pct >= 100 || rand.IntN(100) < s.pct
}

func (s *share) match(c *plugin.Ctx) bool {
	for _, x := range s.vars {
		if c.Eval(x) {
			return true
		}
	}
	return false
}

type abort struct {
	share
	status  int
	body    limiter.Template
	hasBody bool
	headers []header
}

type header struct {
	name  []byte
	value limiter.Template
}

type delay struct {
	share
	d time.Duration
}

// fault is a config with abort or delay (or both: faultBoth).
type fault struct {
	abort *abort
	delay *delay
}

// faultBoth is fault when a request may be both delayed and aborted: the
// abort comes in access, after the pause.
type faultBoth struct{ fault }

func newFault(b *plugin.Build, data []byte) (any, error) {
	var conf config
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	var f fault
	if a := conf.Abort; a != nil {
		f.abort = &abort{status: a.Status}
		var err error
		if f.abort.share, err = compileShare("abort", a.Percentage, a.Vars); err != nil {
			return nil, err
		}
		if a.Body != nil {
			f.abort.body, f.abort.hasBody = limiter.ParseTemplate(*a.Body), true
		}
		names := make([]string, 0, len(a.Headers))
		for n := range a.Headers {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if !limiter.ValidHeaderName(n) {
				return nil, fmt.Errorf("abort.headers: %q is not a header name", n)
			}
			v, err := headerValue(a.Headers[n])
			if err != nil {
				return nil, fmt.Errorf("abort.headers.%s: %v", n, err)
			}
			f.abort.headers = append(f.abort.headers, header{name: []byte(n), value: v})
		}
	}
	if d := conf.Delay; d != nil {
		f.delay = &delay{d: duration(d.Duration)}
		var err error
		if f.delay.share, err = compileShare("delay", d.Percentage, d.Vars); err != nil {
			return nil, err
		}
	}
	if f.abort != nil && f.delay != nil {
		return &faultBoth{f}, nil
	}
	return &f, nil
}

func compileShare(at string, pct *int, vars [][]any) (share, error) {
	s := share{pct: 100, any: vars != nil}
	if pct != nil {
		s.pct = *pct
	}
	for i, v := range vars {
		x, err := route.CompileExpr(v)
		if err != nil {
			return s, fmt.Errorf("%s.vars[%d]: %v", at, i, err)
		}
		s.vars = append(s.vars, x)
	}
	return s, nil
}

// headerValue is a header's value: a string with variables, or a number
// as Lua prints it (%.14g).
func headerValue(raw json.RawMessage) (limiter.Template, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return limiter.ParseTemplate(s), nil
	}
	var n float64
	if err := json.Unmarshal(raw, &n); err != nil {
		return limiter.Template{}, fmt.Errorf("want a string or a number")
	}
	return limiter.ParseTemplate(strconv.FormatFloat(n, 'g', 14, 64)), nil
}

func duration(sec float64) time.Duration {
	if ns := sec * 1e9; ns < math.MaxInt64 {
		return time.Duration(ns)
	}
	return math.MaxInt64
}

// Rewrite delays, aborts, or lets the request on.
func (f *fault) Rewrite(c *plugin.Ctx) plugin.Result {
	if d := f.delay; d != nil && d.d > 0 && d.hit(c) {
		return plugin.Pause(d.d)
	}
	if a := f.abort; a != nil && a.hit(c) {
		return a.stop(c)
	}
	return plugin.Continue
}

func (a *abort) stop(c *plugin.Ctx) plugin.Result {
	for i := range a.headers {
		h := &a.headers[i]
		c.RespEdits.Set(h.name, h.value.Render(c))
	}
	if !a.hasBody {
		return plugin.Stop(a.status, nil)
	}
	body := a.body.Render(c)
	if body == nil {
		body = []byte{} // "": an empty body, not the default one
	}
	return plugin.Stop(a.status, body)
}

// pending is a request's abort decided in rewrite, before its delay.
type pending struct{ abort bool }

// Rewrite decides both faults at once, as APISIX does; a request both
// delayed and aborted pauses here and is aborted in Access.
func (f *faultBoth) Rewrite(c *plugin.Ctx) plugin.Result {
	delayed := f.delay.d > 0 && f.delay.hit(c)
	aborted := f.abort.hit(c)
	switch {
	case delayed && aborted:
		plugin.State[pending](c).abort = true
		return plugin.Pause(f.delay.d)
	case delayed:
		return plugin.Pause(f.delay.d)
	case aborted:
		return f.abort.stop(c)
	}
	return plugin.Continue
}

// Access aborts a request whose abort waited for its delay.
func (f *faultBoth) Access(c *plugin.Ctx) plugin.Result {
	if plugin.State[pending](c).abort {
		return f.abort.stop(c)
	}
	return plugin.Continue
}

var (
	_ plugin.Rewriter = (*fault)(nil)
	_ plugin.Rewriter = (*faultBoth)(nil)
	_ plugin.Accessor = (*faultBoth)(nil)
)
