package admin

import (
	"encoding/json"
	"net/http"
)

// pluginEndpoints answers APISIX's plugin endpoints:
//
//	GET /apisix/admin/plugins/list          names of the plugins this node enables
//	GET /apisix/admin/plugins/<name>        the plugin's JSON Schema
//	GET /apisix/admin/plugins/<name>?schema_type=consumer|metadata
//	GET /apisix/admin/plugins?all=true      every enabled plugin: name, priority, schemas
func (s *Server) pluginEndpoints(r *http.Request, seg []string) (int, any, error) {
	reg := s.o.Plugins
	if reg == nil {
		return 0, nil, errorf(http.StatusNotFound, "no plugins on this node")
	}
	if r.Method != http.MethodGet {
		return 0, nil, errorf(http.StatusMethodNotAllowed, "plugins are read-only: GET")
	}
	enabled := func() []string {
		var out []string
		for _, n := range reg.Names() {
			if reg.Enabled(n) {
				out = append(out, n)
			}
		}
		return out
	}
	switch {
	case len(seg) == 0 || seg[0] == "":
		type entry struct {
			Name     string          `json:"name"`
			Priority int             `json:"priority"`
			Schema   json.RawMessage `json:"schema"`
			Consumer json.RawMessage `json:"consumer_schema,omitempty"`
			Metadata json.RawMessage `json:"metadata_schema,omitempty"`
		}
		out := map[string]entry{}
		for _, n := range enabled() {
			d, _ := reg.Def(n)
			out[n] = entry{Name: n, Priority: d.Priority, Schema: raw(d.Schema), Consumer: raw(d.ConsumerSchema), Metadata: raw(d.MetadataSchema)}
		}
		return http.StatusOK, out, nil
	case seg[0] == "list" && len(seg) == 1:
		return http.StatusOK, enabled(), nil
	case len(seg) == 1:
		if !reg.Enabled(seg[0]) {
			return 0, nil, errorf(http.StatusNotFound, "plugin %q is not enabled on this node", seg[0])
		}
		where := r.URL.Query().Get("schema_type")
		switch where {
		case "", "route":
			where = ""
		case "consumer", "metadata":
		default:
			return 0, nil, errorf(http.StatusBadRequest, "schema_type: want consumer or metadata, got %q", where)
		}
		sc := reg.Schema(seg[0], where)
		if len(sc) == 0 {
			return 0, nil, errorf(http.StatusNotFound, "plugin %q has no %s schema", seg[0], where)
		}
		return http.StatusOK, json.RawMessage(sc), nil
	}
	return 0, nil, errorf(http.StatusNotFound, "not found")
}

func raw(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}
