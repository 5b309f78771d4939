package route

import (
	"net/netip"
	"strings"
	"testing"
)

// testVars is a map-backed Vars for tests.
type testVars struct {
	args, headers, cookies, named map[string]string
	body                          string
}

func (v *testVars) Var(kind VarKind, name string) ([]byte, bool) {
	var m map[string]string
	switch kind {
	case VarArg:
		m = v.args
	case VarHeader:
		m = v.headers
	case VarCookie:
		m = v.cookies
	case VarNamed:
		m = v.named
	case VarBody:
		return []byte(v.body), true
	}
	s, ok := m[name]
	return []byte(s), ok
}

// probe is one request of a table test and the route id it must reach
// ("" for none) with its captures as "k=v" pairs.
type probe struct {
	method, path, host, addr string
	vars                     *testVars
	want                     string
	params                   []string
}

func (p *probe) request() *Request {
	method := p.method
	if method == "" {
		method = "GET"
	}
	req := &Request{Method: []byte(method), Path: []byte(p.path), Host: []byte(p.host)}
	if p.addr != "" {
		req.RemoteAddr = netip.MustParseAddr(p.addr)
	}
	if p.vars != nil {
		req.Vars = p.vars
	}
	return req
}

func mustBuild(t testing.TB, specs ...Spec) *Router {
	t.Helper()
	r := New()
	if err := r.Build(specs); err != nil {
		t.Fatalf("build: %v", err)
	}
	return r
}

// checkProbes looks every probe up and compares winner and captures; on a
// mismatch it prints Explain, which is usually the whole diagnosis.
func checkProbes(t *testing.T, r *Router, probes []probe) {
	t.Helper()
	var m Match
	for _, p := range probes {
		req := p.request()
		got := ""
		if rt := r.Lookup(req, &m); rt != nil {
			got = rt.ID
		}
		var params []string
		for _, kv := range m.Params {
			params = append(params, kv.Key+"="+string(kv.Value))
		}
		if got != p.want || strings.Join(params, ",") != strings.Join(p.params, ",") {
			t.Errorf("%s %s host=%q: got %q %v, want %q %v\n%s", req.Method, p.path, p.host, got, params, p.want, p.params, r.Table().Explain(req))
		}
		if x := r.Table().Explain(req); x.Selected != got {
			t.Errorf("%s: Explain selected %q, Lookup %q", p.path, x.Selected, got)
		}
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
