package admin

import (
	"net/http"
	"net/netip"
	"strings"
)

// GET /v1/healthcheck lists every upstream's health checker with its nodes,
// and GET /v1/healthcheck/<kind>/<id> (kind upstreams, or routes, services
// and stream_routes for inline upstreams) one of them, in the shape of APISIX's
// control API:
//
//	{"name": "/apisix/upstreams/web", "type": "http", "nodes": [{"ip": "10.0.0.1",
//	  "port": 80, "status": "healthy", "counter": {"success": 0, "http_failure": 0,
//	  "tcp_failure": 0, "timeout_failure": 0}}]}
//
// Like /healthz and APISIX's control API it needs no key; admin.allow_admin
// still applies.
func (s *Server) healthcheck(w http.ResponseWriter, r *http.Request) {
	if len(s.o.Allow) > 0 && !s.peerAllowed(r) {
		writeError(w, errorf(http.StatusForbidden, "%s is not in admin.allow_admin", r.RemoteAddr))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, errorf(http.StatusMethodNotAllowed, "method %s is not allowed", r.Method))
		return
	}
	if s.o.Health == nil {
		writeError(w, errorf(http.StatusNotFound, "health checks are not running on this node"))
		return
	}
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1/healthcheck"), "/")
	if rest == "" {
		writeJSON(w, http.StatusOK, s.o.Health.Status(""))
		return
	}
	kind, id, ok := strings.Cut(rest, "/")
	if !ok || id == "" || strings.Contains(id, "/") || (kind != "upstreams" && kind != "routes" && kind != "services" && kind != "stream_routes") {
		writeError(w, errorf(http.StatusNotFound, "not found: GET /v1/healthcheck or /v1/healthcheck/{upstreams,routes,services,stream_routes}/<id>"))
		return
	}
	list := s.o.Health.Status(kind + "/" + id)
	if len(list) == 0 {
		writeError(w, errorf(http.StatusNotFound, "no health checker for %s/%s (it has no checks, or no such resource)", kind, id))
		return
	}
	writeJSON(w, http.StatusOK, list[0])
}

func (s *Server) peerAllowed(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	for _, p := range s.o.Allow {
		if p.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	return false
}
