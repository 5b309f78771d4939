package core

// compileRoute checks route r (p names it in errors: "routes[3]") against
// what s holds besides routes — upstreams, services, plugin configs — and
// compiles its inline upstream (nil when it has none). A full build and an
// incremental one (EtcdProvider.publishRoutes) check a route alike.
func (s *Snapshot) compileRoute(cfg *Config, d *decoder, p string, r *Route, loops int) (*UpstreamSet, error) {
	if r.ID == "" {
		return nil, d.errf(p+".id", nil, "required")
	}
	if r.URI == "" && len(r.URIs) == 0 {
		return nil, d.errf(p, nil, "needs uri or uris")
	}
	if r.UpstreamID != "" && s.Upstreams[r.UpstreamID] == nil {
		return nil, d.errf(p+".upstream_id", nil, "no upstream with id %q", r.UpstreamID)
	}
	if err := s.checkRouteRefs(d, p, r); err != nil {
		return nil, err
	}
	if r.Upstream != nil {
		return d.upstream(cfg, p+".upstream", KindRoutes+"/"+r.ID, r.Upstream, loops)
	}
	if r.UpstreamID == "" && s.serviceUpstream(r.ServiceID) == nil && !s.routeHasPlugins(r) {
		// A route with plugins may answer every request itself (a
		// redirect): APISIX accepts it, and so does sluice.
		return nil, d.errf(p, nil, "needs upstream or upstream_id (here or in its service), or plugins that answer")
	}
	return nil, nil
}
