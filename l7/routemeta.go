package l7

import (
	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
)

// routeMeta is what log plugins report about a route besides its id: its
// and its service's names, and its uri and host patterns when it has one
// of each (with several, the router does not say which one matched).
func routeMeta(snap *core.Snapshot, r *core.Route) plugin.RouteMeta {
	m := plugin.RouteMeta{Name: r.Name}
	if s := snap.Services[r.ServiceID]; s != nil && r.ServiceID != "" {
		m.ServiceName = s.Name
	}
	switch {
	case r.URI != "" && len(r.URIs) == 0:
		m.URI = r.URI
	case r.URI == "" && len(r.URIs) == 1:
		m.URI = r.URIs[0]
	}
	switch host, hosts := snap.RouteHosts(r); {
	case host != "" && len(hosts) == 0:
		m.Host = host
	case host == "" && len(hosts) == 1:
		m.Host = hosts[0]
	}
	return m
}
