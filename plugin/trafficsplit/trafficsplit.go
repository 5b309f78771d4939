// Package trafficsplit is APISIX's traffic-split: the first rule whose
// match holds (a rule without match always holds) sends the request to
// one of its weighted_upstreams, chosen by smooth weighted round-robin; an
// entry without upstream_id or upstream is the route's own upstream. No
// rule holding: the route's upstream.
//
// Everything is decided when the config is built: upstream_id entries are
// the snapshot's compiled upstreams, inline upstreams are compiled once
// with core's upstream compiler, and the match expressions are compiled.
// Per request the hook evaluates the rules' expressions and steps the
// rule's round-robin, whose state is per event loop (no locks, no atomics):
// 0 allocations.
package trafficsplit

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/route"
)

// Def registers the plugin.
var Def = plugin.Def{
	Name:     "traffic-split",
	Priority: 966,
	Schema: `{
		"type": "object",
		"properties": {
			"rules": {
				"type": "array",
				"items": {
					"type": "object",
					"properties": {
						"match": {
							"type": "array",
							"items": {
								"type": "object",
								"properties": {"vars": {"type": "array"}},
								"additionalProperties": false
							}
						},
						"weighted_upstreams": {
							"type": "array",
							"minItems": 1,
							"maxItems": 20,
							"items": {
								"type": "object",
								"properties": {
									"upstream_id": {"anyOf": [
										{"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[a-zA-Z0-9-_.]+$"},
										{"type": "integer", "minimum": 1}
									]},
									"upstream": {"type": "object"},
									"weight": {"type": "integer", "minimum": 0, "default": 1}
								},
								"additionalProperties": false
							}
						}
					},
					"additionalProperties": false
				}
			}
		},
		"additionalProperties": false
	}`,
	New: build,
}

type config struct {
	Rules []struct {
		Match []struct {
			Vars []any `json:"vars"`
		} `json:"match"`
		WeightedUpstreams []struct {
			UpstreamID json.RawMessage `json:"upstream_id"`
			Upstream   json.RawMessage `json:"upstream"`
			Weight     *int            `json:"weight"`
		} `json:"weighted_upstreams"`
	} `json:"rules"`
}

// inlineTimeout is what APISIX gives an inline upstream for a timeout it
// does not set: 15 s, not the usual 60.
const inlineTimeout = 15

func build(b *plugin.Build, data []byte) (any, error) {
	var conf config
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	loops := max(b.Loops, 1)
	p := &split{}
	for i, r := range conf.Rules {
		at := fmt.Sprintf("rules[%d]", i)
		ru := &rule{}
		ru.always = len(r.Match) == 0
		for j, m := range r.Match {
			x, err := route.CompileExpr(m.Vars)
			if err != nil {
				return nil, fmt.Errorf("%s.match[%d].vars: %v", at, j, err)
			}
			if x == nil {
				ru.always = true // an empty vars holds
			}
			ru.match = append(ru.match, x)
		}
		wus := r.WeightedUpstreams
		if len(wus) == 0 {
			ru.ups, ru.weights = []*core.UpstreamSet{nil}, []int{1} // APISIX's default: the route's, weight 1
		}
		for j, wu := range wus {
			wat := fmt.Sprintf("%s.weighted_upstreams[%d]", at, j)
			w := 1
			if wu.Weight != nil {
				w = *wu.Weight
			}
			var us *core.UpstreamSet
			switch {
			case len(wu.UpstreamID) > 0 && len(wu.Upstream) > 0:
				return nil, fmt.Errorf("%s: set upstream_id or upstream, not both", wat)
			case len(wu.UpstreamID) > 0:
				var err error
				if us, err = byID(b, wu.UpstreamID); err != nil {
					return nil, fmt.Errorf("%s.upstream_id: %v", wat, err)
				}
			case len(wu.Upstream) > 0:
				var err error
				if us, err = inline(b, wu.Upstream, wat+".upstream", loops); err != nil {
					return nil, err
				}
			}
			ru.ups = append(ru.ups, us)
			ru.weights = append(ru.weights, w)
		}
		total := 0
		for _, w := range ru.weights {
			total += w
		}
		if total == 0 {
			return nil, fmt.Errorf("%s.weighted_upstreams: every weight is 0: nothing could be picked", at)
		}
		ru.total = total
		ru.cur = make([][]int, loops)
		for l := range ru.cur {
			ru.cur[l] = make([]int, len(ru.weights))
		}
		ru.shared = make([]int, len(ru.weights))
		p.rules = append(p.rules, ru)
	}
	return p, nil
}

func byID(b *plugin.Build, raw json.RawMessage) (*core.UpstreamSet, error) {
	var id any
	if err := json.Unmarshal(raw, &id); err != nil {
		return nil, err
	}
	s := fmt.Sprint(id)
	if f, ok := id.(float64); ok {
		s = fmt.Sprintf("%.0f", f)
	}
	if b.Upstream == nil {
		return nil, errors.New("upstreams are not available to this build")
	}
	us := b.Upstream(s)
	if us == nil {
		return nil, fmt.Errorf("no upstream with id %q", s)
	}
	return us, nil
}

func inline(b *plugin.Build, raw json.RawMessage, where string, loops int) (*core.UpstreamSet, error) {
	v, err := core.DecodeItem(core.KindUpstreams, where, raw)
	if err != nil {
		return nil, err
	}
	u := v.(*core.Upstream)
	// As in APISIX: an inline upstream has no health checks, retries,
	// description or labels; an upstream resource named by upstream_id can.
	for _, f := range []struct {
		name string
		set  bool
	}{{"checks", u.Checks != nil}, {"retries", u.Retries != nil}, {"retry_timeout", u.RetryTimeout != 0},
		{"desc", u.Desc != ""}, {"labels", u.Labels != nil}, {"id", u.ID != ""}} {
		if f.set {
			return nil, fmt.Errorf("%s.%s: not supported on traffic-split's inline upstream (configure an upstream and use upstream_id)", where, f.name)
		}
	}
	t := core.Timeouts{Connect: inlineTimeout, Send: inlineTimeout, Read: inlineTimeout}
	if u.Timeout != nil {
		for _, f := range []struct{ set, dst *float64 }{{&u.Timeout.Connect, &t.Connect}, {&u.Timeout.Send, &t.Send}, {&u.Timeout.Read, &t.Read}} {
			if *f.set != 0 {
				*f.dst = *f.set
			}
		}
	}
	u.Timeout = &t
	return core.CompileUpstream(b.Config, u, where, loops)
}

// split is a configured instance.
type split struct{ rules []*rule }

// rule is one compiled rule: its match (any expression holds; always
// without one) and its weighted upstreams (nil: the route's own).
type rule struct {
	always  bool
	match   []*route.Expr
	ups     []*core.UpstreamSet
	weights []int
	total   int
	// cur is nginx's smooth weighted round-robin state, per event loop;
	// shared (under mu) serves a caller whose loop index is out of range.
	cur    [][]int
	mu     sync.Mutex
	shared []int
}

// Access picks the request's upstream.
func (p *split) Access(c *plugin.Ctx) plugin.Result {
	for _, r := range p.rules {
		if !r.holds(c) {
			continue
		}
		var us *core.UpstreamSet
		if c.Loop >= 0 && c.Loop < len(r.cur) {
			us = r.ups[r.next(r.cur[c.Loop])]
		} else {
			r.mu.Lock()
			us = r.ups[r.next(r.shared)]
			r.mu.Unlock()
		}
		if us != nil {
			c.Upstream = us
		}
		return plugin.Continue
	}
	return plugin.Continue
}

func (r *rule) holds(c *plugin.Ctx) bool {
	if r.always {
		return true
	}
	for _, x := range r.match {
		if c.Eval(x) {
			return true
		}
	}
	return false
}

// next is nginx's smooth weighted round-robin: over total picks each
// entry is picked weight times, spread out rather than in runs.
func (r *rule) next(cur []int) int {
	best := -1
	for i, w := range r.weights {
		if w == 0 {
			continue
		}
		cur[i] += w
		if best < 0 || cur[i] > cur[best] {
			best = i
		}
	}
	cur[best] -= r.total
	return best
}

var _ plugin.Accessor = (*split)(nil)
