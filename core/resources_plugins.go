package core

import (
	"fmt"
	"regexp"
	"sort"

	"gopkg.in/yaml.v3"
)

// The plugin-bearing resources. Their plugins maps are kept as decoded
// (plugin name → that plugin's config object) and are not checked here
// beyond their shape: the plugin engine validates each config against the
// plugin's schema in a Store compile hook.

// Resource kinds that carry plugins, as APISIX names them.
const (
	KindServices       = "services"
	KindConsumers      = "consumers"
	KindConsumerGroups = "consumer_groups"
	KindGlobalRules    = "global_rules"
	KindPluginConfigs  = "plugin_configs"
	KindPluginMetadata = "plugin_metadata"
)

// Service is APISIX's service object: what routes (and stream routes) that
// name it by service_id share — an upstream, plugins, hosts.
type Service struct {
	ID         string            `yaml:"id"`
	Name       string            `yaml:"name"`
	Desc       string            `yaml:"desc"`
	Labels     map[string]string `yaml:"labels"`
	Upstream   *Upstream         `yaml:"upstream"`
	UpstreamID string            `yaml:"upstream_id"`
	Plugins    map[string]any    `yaml:"plugins"`
	Hosts      []string          `yaml:"hosts"`
	EnableWS   bool              `yaml:"enable_websocket"`
	Script     string            `yaml:"script" unsupported:"script (Lua)"`
}

// Consumer is APISIX's consumer object, keyed by its username.
type Consumer struct {
	Username string            `yaml:"username"`
	Desc     string            `yaml:"desc"`
	Labels   map[string]string `yaml:"labels"`
	Plugins  map[string]any    `yaml:"plugins"`
	GroupID  string            `yaml:"group_id"`
}

// ConsumerGroup is APISIX's consumer_group object: plugins shared by the
// consumers whose group_id names it.
type ConsumerGroup struct {
	ID      string            `yaml:"id"`
	Desc    string            `yaml:"desc"`
	Labels  map[string]string `yaml:"labels"`
	Plugins map[string]any    `yaml:"plugins"`
}

// GlobalRule is APISIX's global_rule object: plugins that run for every
// request, in addition to the route's.
type GlobalRule struct {
	ID      string         `yaml:"id"`
	Plugins map[string]any `yaml:"plugins"`
}

// PluginConfig is APISIX's plugin_config object: a reusable set of plugins
// that routes merge in by plugin_config_id.
type PluginConfig struct {
	ID      string            `yaml:"id"`
	Name    string            `yaml:"name"`
	Desc    string            `yaml:"desc"`
	Labels  map[string]string `yaml:"labels"`
	Plugins map[string]any    `yaml:"plugins"`
}

// PluginMetadata is APISIX's plugin_metadata object: the node-wide settings
// of one plugin. It is keyed by the plugin's name (its id), and every other
// field belongs to the plugin, so it decodes itself rather than strictly.
type PluginMetadata struct {
	ID     string         `yaml:"id"`
	Fields map[string]any `yaml:"-"`
}

func (m *PluginMetadata) decodeYAML(d *decoder, path string, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return d.errf(path, n, "want a mapping, got %s", kindName(n))
	}
	m.Fields = map[string]any{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := join(path, k.Value)
		if seen[k.Value] {
			return d.errf(key, k, "duplicate key")
		}
		seen[k.Value] = true
		d.lines[key] = v.Line
		if k.Value == "id" {
			if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
				return d.errf(key, v, "want the plugin's name, got %s", kindName(v))
			}
			m.ID = v.Value
			continue
		}
		var x any
		if err := v.Decode(&x); err != nil {
			return d.errf(key, v, "%v", err)
		}
		x, err := plainJSON(x)
		if err != nil {
			return d.errf(key, v, "%v", err)
		}
		m.Fields[k.Value] = x
	}
	return nil
}

// plainJSON turns what yaml.v3 decodes into an interface (which may hold
// map[any]any) into JSON's shapes, so plugin configs read the same whether
// they came from the file or from etcd.
func plainJSON(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			n, err := plainJSON(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
		return x, nil
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("key %v: want a string key (JSON objects have only those)", k)
			}
			n, err := plainJSON(e)
			if err != nil {
				return nil, err
			}
			m[ks] = n
		}
		return m, nil
	case []any:
		for i, e := range x {
			n, err := plainJSON(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	}
	return v, nil
}

// checkPlugins requires every plugin's config to be an object. Its fields
// are the plugin engine's to check.
func checkPlugins(d *decoder, p string, plugins map[string]any) error {
	names := make([]string, 0, len(plugins))
	for name := range plugins {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "" {
			return d.errf(p, nil, "empty plugin name")
		}
		if _, ok := plugins[name].(map[string]any); !ok {
			return d.errf(join(p, name), nil, "want a mapping (the plugin's config), got %s", jsonKind(plugins[name]))
		}
	}
	return nil
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprintf("%v", v)
}

// usernamePattern is APISIX's for consumer usernames.
var usernamePattern = regexp.MustCompile(`^[a-zA-Z0-9_\-]+$`)

// idField is the field that keys a decoded resource in its kind (a
// consumer's username, a plugin's name for its metadata).
func idField(v any) *string {
	switch r := v.(type) {
	case *Route:
		return &r.ID
	case *Upstream:
		return &r.ID
	case *StreamRoute:
		return &r.ID
	case *Service:
		return &r.ID
	case *Consumer:
		return &r.Username
	case *ConsumerGroup:
		return &r.ID
	case *GlobalRule:
		return &r.ID
	case *PluginConfig:
		return &r.ID
	case *PluginMetadata:
		return &r.ID
	}
	return nil
}

// newResource returns a zero value of kind to decode into, or nil for a
// kind sluice does not serve.
func newResource(kind string) any {
	switch kind {
	case KindRoutes:
		return &Route{}
	case KindUpstreams:
		return &Upstream{}
	case KindStreamRoutes:
		return &StreamRoute{}
	case KindServices:
		return &Service{}
	case KindConsumers:
		return &Consumer{}
	case KindConsumerGroups:
		return &ConsumerGroup{}
	case KindGlobalRules:
		return &GlobalRule{}
	case KindPluginConfigs:
		return &PluginConfig{}
	case KindPluginMetadata:
		return &PluginMetadata{}
	}
	return nil
}

// appendResource adds a decoded resource to res and returns its kind and
// index there ("", -1 for a value of no served kind).
func appendResource(res *Resources, v any) (string, int) {
	switch x := v.(type) {
	case *Route:
		res.Routes = append(res.Routes, *x)
		return KindRoutes, len(res.Routes) - 1
	case *Upstream:
		res.Upstreams = append(res.Upstreams, *x)
		return KindUpstreams, len(res.Upstreams) - 1
	case *StreamRoute:
		res.StreamRoutes = append(res.StreamRoutes, *x)
		return KindStreamRoutes, len(res.StreamRoutes) - 1
	case *Service:
		res.Services = append(res.Services, *x)
		return KindServices, len(res.Services) - 1
	case *Consumer:
		res.Consumers = append(res.Consumers, *x)
		return KindConsumers, len(res.Consumers) - 1
	case *ConsumerGroup:
		res.ConsumerGroups = append(res.ConsumerGroups, *x)
		return KindConsumerGroups, len(res.ConsumerGroups) - 1
	case *GlobalRule:
		res.GlobalRules = append(res.GlobalRules, *x)
		return KindGlobalRules, len(res.GlobalRules) - 1
	case *PluginConfig:
		res.PluginConfigs = append(res.PluginConfigs, *x)
		return KindPluginConfigs, len(res.PluginConfigs) - 1
	case *PluginMetadata:
		res.PluginMetadata = append(res.PluginMetadata, *x)
		return KindPluginMetadata, len(res.PluginMetadata) - 1
	}
	return "", -1
}

// Ref is one reference by id from a resource to another.
type Ref struct {
	Kind, ID string
	Field    string // the referring field, e.g. "service_id"
}

// References lists what a decoded resource refers to by id. They must exist
// for it to build; the Admin API checks them in the write's transaction and
// refuses to delete what is still referred to.
func References(v any) []Ref {
	var refs []Ref
	add := func(kind, id, field string) {
		if id != "" {
			refs = append(refs, Ref{Kind: kind, ID: id, Field: field})
		}
	}
	switch r := v.(type) {
	case *Route:
		add(KindUpstreams, r.UpstreamID, "upstream_id")
		add(KindServices, r.ServiceID, "service_id")
		add(KindPluginConfigs, r.PluginConfigID, "plugin_config_id")
	case *StreamRoute:
		add(KindUpstreams, r.UpstreamID, "upstream_id")
		add(KindServices, r.ServiceID, "service_id")
	case *Service:
		add(KindUpstreams, r.UpstreamID, "upstream_id")
	case *Consumer:
		add(KindConsumerGroups, r.GroupID, "group_id")
	}
	return refs
}

// Referrers lists, for a kind, which kinds may refer to it and by which
// field, so that a delete can be refused while one does.
func Referrers(kind string) []Ref {
	switch kind {
	case KindUpstreams:
		return []Ref{{Kind: KindRoutes, Field: "upstream_id"}, {Kind: KindStreamRoutes, Field: "upstream_id"}, {Kind: KindServices, Field: "upstream_id"}}
	case KindServices:
		return []Ref{{Kind: KindRoutes, Field: "service_id"}, {Kind: KindStreamRoutes, Field: "service_id"}}
	case KindPluginConfigs:
		return []Ref{{Kind: KindRoutes, Field: "plugin_config_id"}}
	case KindConsumerGroups:
		return []Ref{{Kind: KindConsumers, Field: "group_id"}}
	}
	return nil
}
