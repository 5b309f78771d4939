package route

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// linear is the slow, obviously-right reference: every route, every uri,
// each checked the plain way (uri patterns as anchored regexps), the best
// ranked passing route wins.
type linear struct{ specs []Spec }

type linCand struct {
	spec   *Spec
	uri    string
	exact  bool
	keyLen int
	seq    int
	params []string
}

func (l *linear) put(s Spec) {
	for i := range l.specs {
		if l.specs[i].ID == s.ID {
			l.specs[i] = s
			return
		}
	}
	l.specs = append(l.specs, s)
}

func (l *linear) del(id string) {
	l.specs = slices.DeleteFunc(l.specs, func(s Spec) bool { return s.ID == id })
}

var (
	reCacheMu sync.Mutex
	reCache   = map[string]*regexp.Regexp{}
)

func uriMatch(uri, path string) (ok bool, params []string) {
	if !strings.ContainsAny(uri, ":*") {
		return uri == path, nil
	}
	if !strings.Contains(uri, ":") && strings.Index(uri, "*") == len(uri)-1 {
		return strings.HasPrefix(path, uri[:len(uri)-1]), nil
	}
	var names []string
	segs := strings.Split(uri, "/")
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, ":"):
			names = append(names, s[1:])
			segs[i] = "([^/]+)"
		case strings.HasPrefix(s, "*"):
			n := s[1:]
			if n == "" {
				n = ":ext"
			}
			names = append(names, n)
			segs[i] = "(.*)"
		default:
			segs[i] = regexp.QuoteMeta(s)
		}
	}
	src := `(?s)^` + strings.Join(segs, "/") + `$`
	reCacheMu.Lock()
	re, ok := reCache[src]
	if !ok {
		if len(reCache) > 4096 { // fuzzing makes endless patterns
			clear(reCache)
		}
		re = regexp.MustCompile(src)
		reCache[src] = re
	}
	reCacheMu.Unlock()
	m := re.FindStringSubmatch(path)
	if m == nil {
		return false, nil
	}
	for i, n := range names {
		params = append(params, n+"="+m[i+1])
	}
	return true, params
}

func (l *linear) match(method, path, host string, addr netip.Addr, args map[string]string) (string, []string) {
	var best *linCand
	for seq := range l.specs {
		s := &l.specs[seq]
		if !linPredicates(s, method, host, addr, args) {
			continue
		}
		uris := s.URIs
		if s.URI != "" {
			uris = []string{s.URI}
		}
		for _, u := range uris {
			ok, params := uriMatch(u, path)
			if !ok {
				continue
			}
			c := &linCand{spec: s, uri: u, exact: !strings.ContainsAny(u, ":*"), keyLen: len(u), seq: seq, params: params}
			if i := strings.IndexAny(u, ":*"); i >= 0 {
				c.keyLen = i
			}
			if best == nil || linBefore(c, best) {
				best = c
			}
		}
	}
	if best == nil {
		return "", nil
	}
	return best.spec.ID, best.params
}

func linBefore(a, b *linCand) bool {
	switch {
	case a.exact != b.exact:
		return a.exact
	case a.keyLen != b.keyLen:
		return a.keyLen > b.keyLen
	case a.spec.Priority != b.spec.Priority:
		return a.spec.Priority > b.spec.Priority
	case len(a.uri) != len(b.uri):
		return len(a.uri) > len(b.uri)
	}
	return a.seq < b.seq
}

func linPredicates(s *Spec, method, host string, addr netip.Addr, args map[string]string) bool {
	if len(s.Methods) > 0 && !slices.Contains(s.Methods, method) {
		return false
	}
	if len(s.RemoteAddrs) > 0 {
		in := false
		for _, a := range s.RemoteAddrs {
			if p, err := netip.ParsePrefix(a); err == nil {
				in = in || p.Contains(addr)
			} else {
				in = in || netip.MustParseAddr(a) == addr
			}
		}
		if !in {
			return false
		}
	}
	if len(s.Hosts) > 0 {
		in := false
		for _, h := range s.Hosts {
			h = strings.ToLower(h)
			if suffix, ok := strings.CutPrefix(h, "*"); ok {
				in = in || strings.HasSuffix(strings.ToLower(host), suffix)
			} else {
				in = in || strings.ToLower(host) == h
			}
		}
		if !in {
			return false
		}
	}
	return len(s.Vars) == 0 || linVars(s.Vars, args)
}

// linVars evaluates the subset of expressions genSpec produces.
func linVars(e []any, args map[string]string) bool {
	if op, ok := e[0].(string); ok {
		switch op {
		case "OR":
			for _, c := range e[1:] {
				if linVars(c.([]any), args) {
					return true
				}
			}
			return false
		case "AND":
			e = e[1:]
		default:
			v, present := args[strings.TrimPrefix(op, "arg_")]
			neg := len(e) == 4
			opr, val := e[1].(string), e[2]
			if neg {
				opr, val = e[2].(string), e[3]
			}
			var r bool
			switch opr {
			case "==":
				r = present && v == val.(string)
			case "in":
				r = present && slices.Contains(val.([]any), any(v))
			case ">":
				var n float64
				_, err := fmt.Sscanf(v, "%g", &n)
				r = present && err == nil && n > val.(float64)
			}
			return r != neg
		}
	}
	for _, c := range e {
		if !linVars(c.([]any), args) {
			return false
		}
	}
	return true
}

// Generators draw from small alphabets so that uris, hosts and
// predicates collide often.
var (
	segAlphabet = []string{"a", "b", "ab", "c"}
	hostSets    = [][]string{nil, nil, {"a.com"}, {"*.a.com"}, {"b.com", "*.a.com"}}
	methodSets  = [][]string{nil, nil, {"GET"}, {"POST", "PUT"}}
	addrSets    = [][]string{nil, nil, {"10.0.0.0/8"}, {"192.0.2.1", "2001:db8::/32"}}
	varSets     = [][]any{nil, nil, nil,
		{[]any{"arg_k", "==", "v1"}},
		{"OR", []any{"arg_k", "==", "v1"}, []any{"arg_j", "in", []any{"x", "y"}}},
		{[]any{"arg_k", "!", "==", "v2"}, []any{"arg_n", ">", 5.0}},
	}
)

func genURI(rng *rand.Rand) string {
	var b strings.Builder
	n := 1 + rng.IntN(3)
	params := 0
	for i := 0; i < n; i++ {
		b.WriteByte('/')
		switch x := rng.IntN(10); {
		case x < 6:
			b.WriteString(segAlphabet[rng.IntN(len(segAlphabet))])
		case x < 8:
			fmt.Fprintf(&b, ":p%d", params)
			params++
		case i == n-1 && x == 8:
			b.WriteString("*")
			if rng.IntN(2) == 0 {
				b.WriteString("rest")
			}
		default:
			b.WriteString(segAlphabet[rng.IntN(len(segAlphabet))])
			if i == n-1 && params == 0 {
				b.WriteString("*") // "/ab*": prefix
			}
		}
	}
	if rng.IntN(8) == 0 && !strings.Contains(b.String(), "*") {
		b.WriteByte('/')
	}
	return b.String()
}

func genSpec(rng *rand.Rand, id string) Spec {
	s := Spec{ID: id, Priority: rng.IntN(3)}
	if rng.IntN(4) == 0 {
		s.URIs = []string{genURI(rng), genURI(rng)}
	} else {
		s.URI = genURI(rng)
	}
	s.Hosts = hostSets[rng.IntN(len(hostSets))]
	s.Methods = methodSets[rng.IntN(len(methodSets))]
	s.RemoteAddrs = addrSets[rng.IntN(len(addrSets))]
	s.Vars = varSets[rng.IntN(len(varSets))]
	return s
}

type genReq struct {
	method, path, host string
	addr               netip.Addr
	args               map[string]string
}

func genRequest(rng *rand.Rand) genReq {
	segs := []string{"a", "b", "ab", "c", "abc", "", "x"}
	var b strings.Builder
	for i, n := 0, rng.IntN(5); i < n; i++ {
		b.WriteByte('/')
		b.WriteString(segs[rng.IntN(len(segs))])
	}
	if b.Len() == 0 || rng.IntN(6) == 0 {
		b.WriteByte('/')
	}
	args := map[string]string{}
	if x := rng.IntN(3); x > 0 {
		args["k"] = []string{"", "v1", "v2"}[x]
	}
	args["j"] = []string{"x", "z"}[rng.IntN(2)]
	args["n"] = []string{"3", "7"}[rng.IntN(2)]
	return genReq{
		method: []string{"GET", "POST", "PUT", "DELETE"}[rng.IntN(4)],
		path:   b.String(),
		host:   []string{"a.com", "x.a.com", "X.A.com", "b.com", "c.com", ""}[rng.IntN(6)],
		addr:   netip.MustParseAddr([]string{"10.1.1.1", "192.0.2.1", "2001:db8::5", "8.8.8.8"}[rng.IntN(4)]),
		args:   args,
	}
}

func compareOne(t *testing.T, r *Router, ref *linear, g genReq, m *Match) bool {
	t.Helper()
	req := &Request{Method: []byte(g.method), Path: []byte(g.path), Host: []byte(g.host), RemoteAddr: g.addr, Vars: &testVars{args: g.args}}
	got := ""
	if rt := r.Lookup(req, m); rt != nil {
		got = rt.ID
	}
	var gotParams []string
	for _, p := range m.Params {
		gotParams = append(gotParams, p.Key+"="+string(p.Value))
	}
	want, wantParams := ref.match(g.method, g.path, g.host, g.addr, g.args)
	if got != want || !slices.Equal(gotParams, wantParams) {
		var specs strings.Builder
		for _, s := range ref.specs {
			fmt.Fprintf(&specs, "  %+v\n", s)
		}
		t.Errorf("%+v: tree %q %v, linear %q %v\nroutes:\n%s%s", g, got, gotParams, want, wantParams, specs.String(), r.Table().Explain(req))
		return false
	}
	return true
}

func TestDifferentialBuild(t *testing.T) {
	var m Match
	for seed := uint64(0); seed < 150; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		ref := &linear{}
		for i, n := 0, 1+rng.IntN(40); i < n; i++ {
			ref.put(genSpec(rng, fmt.Sprint("r", i)))
		}
		r := New()
		if err := r.Build(ref.specs); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for i := 0; i < 200; i++ {
			if !compareOne(t, r, ref, genRequest(rng), &m) {
				t.Fatalf("seed %d", seed)
			}
		}
	}
}

// TestDifferentialUpdates drives the router through random inserts,
// replacements and deletes, checking lookups after every step and that
// the incrementally maintained tree has the shape of a fresh build.
func TestDifferentialUpdates(t *testing.T) {
	var m Match
	for seed := uint64(0); seed < 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 2))
		ref := &linear{}
		r := New()
		for step := 0; step < 60; step++ {
			id := fmt.Sprint("r", rng.IntN(25))
			var err error
			if rng.IntN(3) == 0 {
				err = r.Delete(id)
				if err == nil {
					ref.del(id)
				}
			} else {
				s := genSpec(rng, id)
				if err = r.Put(s); err == nil {
					ref.put(s)
				}
			}
			if err != nil && !strings.Contains(err.Error(), "not found") {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			for i := 0; i < 30; i++ {
				if !compareOne(t, r, ref, genRequest(rng), &m) {
					t.Fatalf("seed %d step %d", seed, step)
				}
			}
			fresh := New()
			if err := fresh.Build(ref.specs); err != nil {
				t.Fatal(err)
			}
			if err := checkTable(r.Table()); err != nil {
				t.Fatalf("seed %d step %d: %v\n%s", seed, step, err, dumpTable(r.Table(), true))
			}
			if a, b := dumpTable(r.Table(), false), dumpTable(fresh.Table(), false); a != b {
				t.Fatalf("seed %d step %d: tree shape differs from a fresh build\nincremental:\n%s\nfresh:\n%s", seed, step, a, b)
			}
			if a, b := dumpTable(compacted(r), true), dumpTable(fresh.Table(), true); a != b {
				t.Fatalf("seed %d step %d: compacted tree differs from a fresh build\ncompacted:\n%s\nfresh:\n%s", seed, step, a, b)
			}
		}
	}
}

// TestConcurrentReaders has readers look up while a writer churns; run
// with -race it checks that publication is the only shared write.
func TestConcurrentReaders(t *testing.T) {
	r := New()
	if err := r.Build([]Spec{{ID: "stable", URI: "/stable/:id"}}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var m Match
			req := &Request{Method: []byte("GET"), Path: []byte("/stable/7")}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if rt := r.Lookup(req, &m); rt == nil || rt.ID != "stable" || string(m.Params[0].Value) != "7" {
					t.Error("stable route lost during updates")
					return
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 2000; i++ {
		id := fmt.Sprint("r", rng.IntN(50))
		if rng.IntN(2) == 0 {
			_ = r.Delete(id)
		} else if err := r.Put(Spec{ID: id, URI: fmt.Sprintf("/s%d/:x/%d", rng.IntN(5), i)}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
