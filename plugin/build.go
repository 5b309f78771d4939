package plugin

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/route"
)

// Origin is where a plugin config comes from. Higher wins when two layers
// configure the same plugin: APISIX's Consumer > Consumer Group > Route >
// Plugin Config > Service. Global rules run in addition, not instead.
type Origin uint8

// Origins, lowest precedence first.
const (
	OriginGlobal Origin = iota
	OriginService
	OriginPluginConfig
	OriginRoute
	OriginConsumerGroup
	OriginConsumer
)

// Layer is one resource's plugins.
type Layer struct {
	Origin Origin
	// Owner names the resource ("routes/1"), for errors and for the state
	// plugins keep across snapshots.
	Owner   string
	Plugins map[string]any
}

// Build compiles one config snapshot's plugins: the global rules, the
// consumers, then a chain per route. Make one per snapshot with NewBuild.
type Build struct {
	reg       *Registry
	seq       uint64
	meta      map[string]map[string]any
	consumers []*Consumer
	byName    map[string]*Consumer
	credKeys  map[string]map[string]string // plugin -> ConsumerKey value -> username
	groups    map[string]*group
	shared    map[string]any
	global    *Chain
	keepKey   string
	// Warn reports a plugin left out because this node does not enable it.
	Warn func(owner, plugin string)
	// Config and Loops are the node's, for plugins that compile upstreams
	// of their own (traffic-split); Upstream finds the snapshot's upstream
	// by id (nil when none). The server sets them.
	Config   *core.Config
	Loops    int
	Upstream func(id string) *core.UpstreamSet
}

type group struct {
	entries []entry
}

// NewBuild starts a build; meta is plugin_metadata by plugin name.
func (r *Registry) NewBuild(meta map[string]map[string]any) *Build {
	return &Build{
		reg: r, seq: r.startBuild(), meta: meta,
		byName: map[string]*Consumer{}, groups: map[string]*group{}, shared: map[string]any{},
		credKeys: map[string]map[string]string{},
		Warn: func(owner, plugin string) {
			core.WarnOnce("plugin-disabled-"+plugin, "plugin: %s configures %s, which this node does not enable (config.yaml plugins); it is left out", owner, plugin)
		},
	}
}

// Registry is the registry the build belongs to.
func (b *Build) Registry() *Registry { return b.reg }

// Metadata returns name's plugin_metadata as JSON (nil when none), after
// checking it against the plugin's metadata schema.
func (b *Build) Metadata(name string) ([]byte, error) {
	m, ok := b.meta[name]
	if !ok {
		return nil, nil
	}
	return b.reg.Validate(name, "metadata", m)
}

// Shared memoises a value for this build (an index over the consumers an
// authentication plugin builds once, not once per route).
func (b *Build) Shared(key string, mk func() (any, error)) (any, error) {
	if v, ok := b.shared[key]; ok {
		return v, nil
	}
	v, err := mk()
	if err != nil {
		return nil, err
	}
	b.shared[key] = v
	return v, nil
}

// Keep returns state that outlives the snapshot: the value made by mk the
// first time, and the same value in every later build for the same plugin,
// owner and config. A limit's counters survive an unrelated config change
// this way, and start afresh when their own config changes. mk should
// return a pointer: it is kept while any chain's instance holds it, however
// many builds leave it untouched, and reclaimed after. Call it from
// Def.New.
func (b *Build) Keep(mk func() any) any {
	return b.reg.keepFor(b.keepKey, mk)
}

// Consumers are the consumers with credentials for the authentication
// plugin name, in config order.
func (b *Build) Consumers(name string) []*Consumer {
	var out []*Consumer
	for _, c := range b.consumers {
		if _, ok := c.creds[name]; ok {
			out = append(out, c)
		}
	}
	return out
}

// AddGroup compiles a consumer group's plugins; call before the consumers.
func (b *Build) AddGroup(id string, plugins map[string]any) error {
	owner := "consumer_groups/" + id
	es, err := b.entries(Layer{Origin: OriginConsumerGroup, Owner: owner, Plugins: plugins})
	if err != nil {
		return err
	}
	b.groups[id] = &group{entries: es}
	return nil
}

// AddConsumer compiles a consumer: credentials for authentication plugins,
// and its own plugins (merged over its group's), created once and shared
// by every route it visits.
func (b *Build) AddConsumer(username, groupID string, labels map[string]string, plugins map[string]any) error {
	owner := "consumers/" + username
	if _, dup := b.byName[username]; dup {
		return fmt.Errorf("%s: duplicate username", owner)
	}
	c := &Consumer{Username: username, name: []byte(username), GroupID: groupID, Labels: labels, creds: map[string][]byte{}}
	if id, ok := labels["custom_id"]; ok {
		c.customID = []byte(id)
	}
	own := map[string]any{}
	for name, conf := range plugins {
		k := b.reg.byName[name]
		if k == nil {
			return fmt.Errorf("%s: plugins: unknown plugin %q", owner, name)
		}
		if k.consumer == nil {
			own[name] = conf
			continue
		}
		data, err := b.reg.Validate(name, "consumer", conf)
		if err != nil {
			return fmt.Errorf("%s: plugins.%s: %w", owner, name, err)
		}
		if field, err := checkSecrets(data); err != nil {
			return fmt.Errorf("%s: plugins.%s.%s: %w", owner, name, field, err)
		}
		if err := b.checkUnique(k, username, data); err != nil {
			return fmt.Errorf("%s: plugins.%s.%v", owner, name, err)
		}
		c.creds[name] = data
	}
	es, err := b.entries(Layer{Origin: OriginConsumer, Owner: owner, Plugins: own})
	if err != nil {
		return err
	}
	if groupID != "" {
		g := b.groups[groupID]
		if g == nil {
			return fmt.Errorf("%s: group_id: no consumer group %q", owner, groupID)
		}
		es = merge(g.entries, es)
	}
	c.entries = es
	b.consumers = append(b.consumers, c)
	b.byName[username] = c
	return nil
}

// SetGlobal compiles the global rules, which run for every route before
// the route's own plugins. Two rules configuring one plugin: the later
// rule's config wins.
func (b *Build) SetGlobal(rules []Layer) error {
	var es []entry
	for _, l := range rules {
		l.Origin = OriginGlobal
		more, err := b.entries(l)
		if err != nil {
			return err
		}
		es = merge(es, more)
	}
	ch, err := b.compile(es, nil, "global_rules")
	if err != nil {
		return err
	}
	b.global = ch
	return nil
}

// Chain compiles a route's chain from its layers (any order; precedence
// comes from each layer's Origin). The global rules come first.
func (b *Build) Chain(layers ...Layer) (*Chain, error) {
	sort.SliceStable(layers, func(i, j int) bool { return layers[i].Origin < layers[j].Origin })
	var es []entry
	owner := ""
	for _, l := range layers {
		more, err := b.entries(l)
		if err != nil {
			return nil, err
		}
		es = merge(es, more)
		owner = l.Owner
	}
	return b.compile(es, b.global, owner)
}

// StreamChain compiles a stream route's chain: preread and log hooks only.
func (b *Build) StreamChain(l Layer) (*Chain, error) {
	es, err := b.entries(l)
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		if _, ok := e.inst.(Prereader); !ok {
			return nil, fmt.Errorf("%s: plugins.%s: not a stream plugin (it has no preread phase)", l.Owner, e.k.Name)
		}
	}
	return b.compile(es, nil, l.Owner)
}

// meta is APISIX's per-plugin _meta.
type meta struct {
	Disable  bool  `json:"disable"`
	Priority *int  `json:"priority"`
	Filter   []any `json:"filter"`
}

// entries validates and instantiates one layer's plugins.
func (b *Build) entries(l Layer) ([]entry, error) {
	names := make([]string, 0, len(l.Plugins))
	for n := range l.Plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []entry
	for _, name := range names {
		at := l.Owner + ": plugins." + name
		k := b.reg.byName[name]
		if k == nil {
			return nil, fmt.Errorf("%s: unknown plugin", at)
		}
		conf, ok := l.Plugins[name].(map[string]any)
		if !ok && l.Plugins[name] != nil {
			return nil, fmt.Errorf("%s: want an object", at)
		}
		var m meta
		if raw, has := conf["_meta"]; has {
			data, _ := json.Marshal(raw)
			dec := json.NewDecoder(strings.NewReader(string(data)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&m); err != nil {
				return nil, fmt.Errorf("%s._meta: %v", at, err)
			}
			rest := make(map[string]any, len(conf))
			for k, v := range conf {
				if k != "_meta" {
					rest[k] = v
				}
			}
			conf = rest
		}
		if conf == nil {
			conf = map[string]any{}
		}
		data, err := b.reg.Validate(name, "", conf)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		if !b.reg.Enabled(name) {
			if b.Warn != nil {
				b.Warn(l.Owner, name)
			}
			continue
		}
		e := entry{k: k, prio: k.Priority, origin: l.Origin, owner: l.Owner, disabled: m.Disable}
		if m.Priority != nil {
			e.prio = *m.Priority
		}
		if len(m.Filter) > 0 {
			if e.filter, err = route.CompileExpr(m.Filter); err != nil {
				return nil, fmt.Errorf("%s._meta.filter: %v", at, err)
			}
		}
		b.keepKey = name + "\x00" + l.Owner + "\x00" + string(data)
		e.inst, err = k.New(b, data)
		b.keepKey = ""
		if err != nil {
			return nil, fmt.Errorf("%s: %v", at, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// merge overlays hi on lo: hi's entry replaces lo's of the same plugin.
func merge(lo, hi []entry) []entry {
	out := make([]entry, 0, len(lo)+len(hi))
next:
	for _, e := range lo {
		for _, h := range hi {
			if h.k == e.k {
				continue next
			}
		}
		out = append(out, e)
	}
	return append(out, hi...)
}

// Consumer is a compiled consumer.
type Consumer struct {
	Username string
	name     []byte
	GroupID  string
	Labels   map[string]string
	customID []byte // labels.custom_id, nil when unset
	creds    map[string][]byte
	entries  []entry
}

// Credential is the consumer's validated config (JSON) for the
// authentication plugin name, nil when it has none.
func (c *Consumer) Credential(name string) []byte { return c.creds[name] }
