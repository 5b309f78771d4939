package core

import "sort"

// StreamTargets lists the snapshot's stream routes, by server port (any
// port last) and then in config order: for compile hooks.
func (s *Snapshot) StreamTargets() []*StreamTarget {
	ports := make([]int, 0, len(s.stream))
	for p := range s.stream {
		ports = append(ports, int(p))
	}
	sort.Ints(ports)
	var out []*StreamTarget
	for _, p := range ports {
		if p != 0 {
			out = append(out, s.stream[uint16(p)]...)
		}
	}
	return append(out, s.stream[0]...)
}

// routeHasPlugins reports whether r runs plugins of its own, its service's
// or its plugin config's.
func (s *Snapshot) routeHasPlugins(r *Route) bool {
	if len(r.Plugins) > 0 {
		return true
	}
	if sv := s.Services[r.ServiceID]; sv != nil && len(sv.Plugins) > 0 {
		return true
	}
	pc := s.PluginConfigs[r.PluginConfigID]
	return pc != nil && len(pc.Plugins) > 0
}
