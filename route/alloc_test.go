//go:build !race

package route

import (
	"net/netip"
	"testing"
)

// argVars serves one query argument without allocating, as the L7
// pipeline's implementation over parsed views must.
type argVars struct{ k, v []byte }

func (a *argVars) Var(kind VarKind, name string) ([]byte, bool) {
	if kind == VarArg && name == string(a.k) {
		return a.v, true
	}
	return nil, false
}

func TestLookupAllocs(t *testing.T) {
	r := mustBuild(t,
		Spec{ID: "static", URI: "/api/v1/orders/list"},
		Spec{ID: "param", URI: "/api/v1/users/:id/orders/:order"},
		Spec{ID: "catch", URI: "/static/*path"},
		Spec{ID: "host", URI: "/h", Hosts: []string{"*.example.com"}, Methods: []string{"GET"}},
		Spec{ID: "addr", URI: "/ip", RemoteAddrs: []string{"10.0.0.0/8"}},
		Spec{ID: "vars", URI: "/v/*", Vars: []any{[]any{"arg_k", "==", "v"}, []any{"remote_addr", "ipmatch", "10.0.0.0/8"}, []any{"arg_k", "~~", "^v$"}}},
		Spec{ID: "prefix", URI: "/api/*"},
	)
	vars := &argVars{k: []byte("k"), v: []byte("v")}
	cases := []struct{ name, path, host, want string }{
		{"static", "/api/v1/orders/list", "", "static"},
		{"param", "/api/v1/users/42/orders/7", "", "param"},
		{"catch-all", "/static/css/site.css", "", "catch"},
		{"wildcard host", "/h", "WWW.example.com", "host"},
		{"cidr", "/ip", "", "addr"},
		{"vars", "/v/x", "", "vars"},
		{"prefix fallback", "/api/v2/x", "", "prefix"},
		{"miss", "/nothing/here", "", ""},
	}
	var m Match
	for _, c := range cases {
		req := &Request{Method: []byte("GET"), Path: []byte(c.path), Host: []byte(c.host), RemoteAddr: netip.MustParseAddr("10.1.2.3"), Vars: vars}
		got := ""
		if rt := r.Lookup(req, &m); rt != nil {
			got = rt.ID
		}
		if got != c.want {
			t.Fatalf("%s: got %q, want %q", c.name, got, c.want)
		}
		if n := testing.AllocsPerRun(200, func() { r.Lookup(req, &m) }); n != 0 {
			t.Errorf("%s: %v allocations per lookup, want 0", c.name, n)
		}
	}
}
