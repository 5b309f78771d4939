// Package admin is the Admin API: APISIX v3's resource endpoints under
// /apisix/admin/ (and /sluice/admin/) on their own listener, never on a
// data-plane port, plus /healthz and /readyz. Writes go to etcd, from where
// every node (this one included) picks them up by watch; nothing is applied
// to the local snapshot directly.
//
// Every write is checked before it is stored: the body against the kind's
// JSON Schema (errors carry JSON pointers), fields sluice cannot serve yet
// are refused by name, references (upstream_id) must exist, and the object
// must compile as the data plane would compile it. A reference is checked in
// the same etcd transaction as the write, and a DELETE is refused while
// something refers to the resource, so the store never holds a dangling id.
//
//	curl -H "X-API-KEY: $KEY" -X PUT 127.0.0.1:9180/apisix/admin/upstreams/redis \
//	  -d '{"type":"roundrobin","nodes":{"127.0.0.1:6379":1}}'
package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Defaults for Options.
const (
	DefaultTimeout = 3 * time.Second
	DefaultMaxBody = 1 << 20
)

// Options configure a Server.
type Options struct {
	// Config is the node's config: stream route ports are checked against
	// its listeners, as the data plane will check them.
	Config *core.Config
	Loops  int
	// Client is the etcd store; nil when the node reads a YAML file, and
	// then resource endpoints answer 400 saying so.
	Client *clientv3.Client
	// Keys are the accepted X-API-KEY values; at least one is required.
	Keys []core.AdminKey
	// Allow, when not empty, lists the peer networks that may use the API.
	// Only the socket's peer address counts, never a forwarding header.
	Allow []netip.Prefix
	// Ready reports readiness for /readyz and a word on where config is from.
	Ready func() (bool, string)
	// Timeout bounds each etcd operation (DefaultTimeout); past it a request
	// fails with 503.
	Timeout time.Duration
	// MaxBody caps request bodies (DefaultMaxBody).
	MaxBody int64
	// View, when set, is this node's copy of what etcd holds (the etcd
	// provider, kept current by its watch). Writes take the values they
	// depend on from it and commit in one transaction that compares their
	// revisions; without a view they read them first.
	View View
	// Compile are the store's compile hooks (core.Store.Compile): a write
	// they would refuse is a 400, not a snapshot the data plane rejects.
	Compile []func(*core.Snapshot) error
	// Plugins is the node's plugin registry, for /apisix/admin/plugins
	// (plugins_api.go); nil: 404.
	Plugins *plugin.Registry
	// Health answers GET /v1/healthcheck (healthcheck.go); nil: 404.
	Health *core.Health
}

// View is a node's copy of the resources in etcd; *core.EtcdProvider is one.
type View interface {
	// Lookup returns a key as last seen, and false when it was absent
	// then (it may have been written since).
	Lookup(key string) (core.StoredKV, bool)
}

// Server answers the Admin API.
type Server struct {
	o      Options
	v      *core.Validator
	prefix string
	srv    *http.Server
	ln     net.Listener
}

// New checks the options and compiles the schemas.
func New(o Options) (*Server, error) {
	if len(o.Keys) == 0 {
		return nil, errors.New("admin: no API keys")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Loops <= 0 {
		o.Loops = 1
	}
	if o.Ready == nil {
		o.Ready = func() (bool, string) { return true, "" }
	}
	v, err := core.NewValidator()
	if err != nil {
		return nil, err
	}
	s := &Server{o: o, v: v, prefix: o.Config.Etcd.Prefix}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          nil,
	}
	return s, nil
}

// Listen binds addr; Serve then answers on it.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin.listen %s: %w", addr, err)
	}
	s.ln = ln
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve answers until Close.
func (s *Server) Serve() error {
	err := s.srv.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the server, letting requests in flight finish for a moment.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
}

// apiError is a failed request: APISIX's {"error_msg": …} with a status.
type apiError struct {
	status int
	msg    string
	fields []core.FieldError
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Server", "sluice")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{status: http.StatusInternalServerError, msg: err.Error()}
	}
	body := map[string]any{"error_msg": ae.msg}
	if len(ae.fields) > 0 {
		body["errors"] = ae.fields
	}
	writeJSON(w, ae.status, body)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	case "/readyz":
		ok, from := s.o.Ready()
		if !ok {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "config": from})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "config": from})
		return
	}
	if r.URL.Path == "/v1/healthcheck" || strings.HasPrefix(r.URL.Path, "/v1/healthcheck/") {
		s.healthcheck(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/apisix/admin/")
	if !ok {
		rest, ok = strings.CutPrefix(r.URL.Path, "/sluice/admin/")
	}
	if !ok {
		writeError(w, errorf(http.StatusNotFound, "not found"))
		return
	}
	if err := s.admit(r); err != nil {
		writeError(w, err)
		return
	}
	var body []byte
	if r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodPatch {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(w, errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", s.o.MaxBody))
				return
			}
			writeError(w, errorf(http.StatusBadRequest, "reading the body: %v", err))
			return
		}
	}
	status, out, err := s.route(r, strings.Trim(rest, "/"), body)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, status, out)
}

// admit checks the peer address and the API key.
func (s *Server) admit(r *http.Request) error {
	if len(s.o.Allow) > 0 {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		allowed := false
		if err == nil {
			for _, p := range s.o.Allow {
				if p.Contains(ap.Addr().Unmap()) {
					allowed = true
					break
				}
			}
		}
		if !allowed {
			return errorf(http.StatusForbidden, "%s is not in admin.allow_admin", r.RemoteAddr)
		}
	}
	got := []byte(r.Header.Get("X-API-KEY"))
	role := ""
	// Compare against every key, whatever matched, so timing says nothing
	// about which key (or how much of one) was right.
	for _, k := range s.o.Keys {
		if subtle.ConstantTimeCompare(got, []byte(k.Key)) == 1 && role == "" {
			role = k.Role
		}
	}
	if len(got) == 0 || role == "" {
		return errorf(http.StatusUnauthorized, "failed to check token: missing or wrong X-API-KEY")
	}
	if role != "admin" && r.Method != http.MethodGet && r.Method != http.MethodHead &&
		!(r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/schema/validate/")) {
		return errorf(http.StatusForbidden, "permission denied: the key's role %q is read-only", role)
	}
	return nil
}

// route dispatches /apisix/admin/<rest>.
func (s *Server) route(r *http.Request, rest string, body []byte) (int, any, error) {
	seg := strings.Split(rest, "/")
	if seg[0] == "schema" {
		return s.schemaEndpoints(r, seg[1:], body)
	}
	if seg[0] == "plugins" {
		return s.pluginEndpoints(r, seg[1:])
	}
	kind := seg[0]
	known, why := core.KindSupport(kind)
	if !known || kind == "" {
		return 0, nil, errorf(http.StatusNotFound, "not found: %q is not a resource kind", kind)
	}
	if why != "" {
		return 0, nil, errorf(http.StatusBadRequest, "%s are not supported yet: %s", kind, why)
	}
	if s.o.Client == nil {
		return 0, nil, errorf(http.StatusBadRequest, "resources are not stored here: this node reads them from %s (config.provider: yaml); edit that file", s.o.Config.Resolve(s.o.Config.Config.YAMLPath))
	}
	id := ""
	if len(seg) > 1 {
		id = seg[1]
		if err := checkKindID(kind, id); err != nil {
			return 0, nil, err
		}
	}
	sub := seg[min(2, len(seg)):]
	if len(sub) > 0 && r.Method != http.MethodPatch {
		return 0, nil, errorf(http.StatusNotFound, "not found: sub-paths are for PATCH")
	}
	ctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(r.Context()), s.o.Timeout)
	defer cancel()
	if err := s.available(); err != nil {
		return 0, nil, err
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if id == "" {
			return s.list(ctx, kind, r)
		}
		return s.get(ctx, kind, id)
	case http.MethodPut:
		return s.put(ctx, kind, id, body)
	case http.MethodPost:
		if id != "" {
			return 0, nil, errorf(http.StatusMethodNotAllowed, "POST creates with a generated id: use POST /apisix/admin/%s, or PUT to choose the id", kind)
		}
		return s.post(ctx, kind, body)
	case http.MethodPatch:
		if id == "" {
			return 0, nil, errorf(http.StatusBadRequest, "PATCH needs an id")
		}
		return s.patch(ctx, kind, id, sub, body)
	case http.MethodDelete:
		if id == "" {
			return 0, nil, errorf(http.StatusBadRequest, "DELETE needs an id")
		}
		return s.del(ctx, kind, id)
	}
	return 0, nil, errorf(http.StatusMethodNotAllowed, "method %s is not allowed", r.Method)
}

func (s *Server) schemaEndpoints(r *http.Request, seg []string, body []byte) (int, any, error) {
	switch {
	case len(seg) == 2 && seg[0] == "validate" && r.Method == http.MethodPost:
		kind := seg[1]
		doc, err := parseBody(body)
		if err != nil {
			return 0, nil, err
		}
		if err := s.validate(kind, doc); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]any{"valid": true}, nil
	case len(seg) == 1 && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		raw := s.v.SchemaJSON(seg[0])
		if raw == nil {
			return 0, nil, errorf(http.StatusNotFound, "no schema for %q", seg[0])
		}
		return http.StatusOK, json.RawMessage(raw), nil
	}
	return 0, nil, errorf(http.StatusNotFound, "not found: POST /apisix/admin/schema/validate/<kind> or GET /apisix/admin/schema/<kind>")
}
