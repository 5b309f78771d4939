package core

import "fmt"

// buildPluginResources checks and indexes the plugin-bearing resources:
// services (which routes and stream routes then draw on), consumer groups
// before the consumers that name them, global rules, plugin configs and
// plugin metadata. References are checked here; plugin configs are only
// checked for shape (the plugin engine's compile hook does the rest).
func (s *Snapshot) buildPluginResources(cfg *Config, res *Resources, d *decoder, loops int) error {
	s.Services = make(map[string]*Service, len(res.Services))
	s.ServiceUpstreams = map[string]*UpstreamSet{}
	s.ConsumerGroups = make(map[string]*ConsumerGroup, len(res.ConsumerGroups))
	s.Consumers = make([]*Consumer, 0, len(res.Consumers))
	s.GlobalRules = make([]*GlobalRule, 0, len(res.GlobalRules))
	s.PluginConfigs = make(map[string]*PluginConfig, len(res.PluginConfigs))
	s.PluginMetadata = make(map[string]map[string]any, len(res.PluginMetadata))

	for i := range res.Services {
		v := &res.Services[i]
		p := fmt.Sprintf("services[%d]", i)
		if err := checkID(d, p+".id", v.ID, s.Services[v.ID] != nil); err != nil {
			return err
		}
		switch {
		case v.Upstream != nil && v.UpstreamID != "":
			return d.errf(p, nil, "set upstream or upstream_id, not both")
		case v.Upstream != nil:
			us, err := d.upstream(cfg, p+".upstream", KindServices+"/"+v.ID, v.Upstream, loops)
			if err != nil {
				return err
			}
			s.ServiceUpstreams[v.ID] = us
		case v.UpstreamID != "" && s.Upstreams[v.UpstreamID] == nil:
			return d.errf(p+".upstream_id", nil, "no upstream with id %q", v.UpstreamID)
		}
		for j, h := range v.Hosts {
			if h == "" {
				return d.errf(fmt.Sprintf("%s.hosts[%d]", p, j), nil, "empty host")
			}
		}
		if err := checkPlugins(d, p+".plugins", v.Plugins); err != nil {
			return err
		}
		s.Services[v.ID] = v
	}

	for i := range res.ConsumerGroups {
		v := &res.ConsumerGroups[i]
		p := fmt.Sprintf("consumer_groups[%d]", i)
		if err := checkID(d, p+".id", v.ID, s.ConsumerGroups[v.ID] != nil); err != nil {
			return err
		}
		if err := requirePlugins(d, p, v.Plugins); err != nil {
			return err
		}
		s.ConsumerGroups[v.ID] = v
	}

	users := make(map[string]bool, len(res.Consumers))
	for i := range res.Consumers {
		v := &res.Consumers[i]
		p := fmt.Sprintf("consumers[%d]", i)
		switch {
		case v.Username == "":
			return d.errf(p+".username", nil, "required")
		case !usernamePattern.MatchString(v.Username):
			return d.errf(p+".username", nil, "%q: want letters, digits, _ and - only", v.Username)
		case users[v.Username]:
			return d.errf(p+".username", nil, "duplicate username %q", v.Username)
		}
		users[v.Username] = true
		if v.GroupID != "" && s.ConsumerGroups[v.GroupID] == nil {
			return d.errf(p+".group_id", nil, "no consumer_group with id %q", v.GroupID)
		}
		if err := checkPlugins(d, p+".plugins", v.Plugins); err != nil {
			return err
		}
		s.Consumers = append(s.Consumers, v)
	}

	rules := make(map[string]bool, len(res.GlobalRules))
	for i := range res.GlobalRules {
		v := &res.GlobalRules[i]
		p := fmt.Sprintf("global_rules[%d]", i)
		if err := checkID(d, p+".id", v.ID, rules[v.ID]); err != nil {
			return err
		}
		rules[v.ID] = true
		if err := requirePlugins(d, p, v.Plugins); err != nil {
			return err
		}
		s.GlobalRules = append(s.GlobalRules, v)
	}

	for i := range res.PluginConfigs {
		v := &res.PluginConfigs[i]
		p := fmt.Sprintf("plugin_configs[%d]", i)
		if err := checkID(d, p+".id", v.ID, s.PluginConfigs[v.ID] != nil); err != nil {
			return err
		}
		if err := requirePlugins(d, p, v.Plugins); err != nil {
			return err
		}
		s.PluginConfigs[v.ID] = v
	}

	for i := range res.PluginMetadata {
		v := &res.PluginMetadata[i]
		p := fmt.Sprintf("plugin_metadata[%d]", i)
		_, dup := s.PluginMetadata[v.ID]
		if err := checkID(d, p+".id", v.ID, dup); err != nil {
			return err
		}
		f := v.Fields
		if f == nil {
			f = map[string]any{}
		}
		s.PluginMetadata[v.ID] = f
	}
	return nil
}

func checkID(d *decoder, key, id string, dup bool) error {
	if id == "" {
		return d.errf(key, nil, "required")
	}
	if dup {
		return d.errf(key, nil, "duplicate id %q", id)
	}
	return nil
}

func requirePlugins(d *decoder, p string, plugins map[string]any) error {
	if len(plugins) == 0 {
		return d.errf(p+".plugins", nil, "required: at least one plugin")
	}
	return checkPlugins(d, p+".plugins", plugins)
}

// checkRouteRefs checks what a route refers to besides its upstream, and
// the shape of its plugins.
func (s *Snapshot) checkRouteRefs(d *decoder, p string, r *Route) error {
	if r.ServiceID != "" && s.Services[r.ServiceID] == nil {
		return d.errf(p+".service_id", nil, "no service with id %q", r.ServiceID)
	}
	if r.PluginConfigID != "" && s.PluginConfigs[r.PluginConfigID] == nil {
		return d.errf(p+".plugin_config_id", nil, "no plugin_config with id %q", r.PluginConfigID)
	}
	return checkPlugins(d, p+".plugins", r.Plugins)
}

func (s *Snapshot) checkStreamRefs(d *decoder, p string, r *StreamRoute) error {
	if r.ServiceID != "" && s.Services[r.ServiceID] == nil {
		return d.errf(p+".service_id", nil, "no service with id %q", r.ServiceID)
	}
	return checkPlugins(d, p+".plugins", r.Plugins)
}

// serviceUpstream is the upstream a service provides: its inline one, else
// the one its upstream_id names; nil for none (or no such service).
func (s *Snapshot) serviceUpstream(id string) *UpstreamSet {
	if id == "" {
		return nil
	}
	if us := s.ServiceUpstreams[id]; us != nil {
		return us
	}
	if svc := s.Services[id]; svc != nil && svc.UpstreamID != "" {
		return s.Upstreams[svc.UpstreamID]
	}
	return nil
}

// RouteUpstream is the upstream a route sends to, in APISIX's order: the
// route's inline upstream, its upstream_id, then its service's inline
// upstream, then the service's upstream_id. Nil if none.
func (s *Snapshot) RouteUpstream(r *Route) *UpstreamSet {
	if us := s.RouteUpstreams[r.ID]; us != nil {
		return us
	}
	if r.UpstreamID != "" {
		if us := s.Upstreams[r.UpstreamID]; us != nil {
			return us
		}
	}
	return s.serviceUpstream(r.ServiceID)
}

// RouteHosts are the hosts a route matches: its own host/hosts, or, when it
// has none, its service's hosts.
func (s *Snapshot) RouteHosts(r *Route) (host string, hosts []string) {
	if r.Host != "" || len(r.Hosts) > 0 {
		return r.Host, r.Hosts
	}
	if svc := s.Services[r.ServiceID]; svc != nil && r.ServiceID != "" {
		return "", svc.Hosts
	}
	return "", nil
}

// RouteWebsocket says whether a route proxies WebSocket upgrades: the
// route's enable_websocket, or its service's.
func (s *Snapshot) RouteWebsocket(r *Route) bool {
	if r.EnableWS {
		return true
	}
	svc := s.Services[r.ServiceID]
	return svc != nil && r.ServiceID != "" && svc.EnableWS
}
