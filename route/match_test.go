package route

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestPaths(t *testing.T) {
	r := mustBuild(t,
		Spec{ID: "root", URI: "/"},
		Spec{ID: "exact", URI: "/a/b"},
		Spec{ID: "a-slash-star", URI: "/a/*"},
		Spec{ID: "a-star", URI: "/a*"},
		Spec{ID: "ab-star", URI: "/a/b/*"},
		Spec{ID: "user", URI: "/user/:id"},
		Spec{ID: "user-me", URI: "/user/me"},
		Spec{ID: "user-posts", URI: "/user/:id/posts/:post"},
		Spec{ID: "files", URI: "/files/*path"},
		Spec{ID: "multi", URIs: []string{"/m1", "/m2/:x"}},
		Spec{ID: "anon", URI: "/anon/:id/*"},
		Spec{ID: "colon", URI: "/v1/models/foo:generate"},
		Spec{ID: "everything", URI: "/*"},
	)
	checkProbes(t, r, []probe{
		{path: "/", want: "root"},
		{path: "/a/b", want: "exact"},     // exact beats the prefix routes
		{path: "/a/b/", want: "ab-star"},  // longest prefix first
		{path: "/a/b/c", want: "ab-star"}, // longest prefix first
		{path: "/a/c", want: "a-slash-star"},
		{path: "/a/", want: "a-slash-star"}, // a prefix matches itself
		{path: "/a", want: "a-star"},        // "/a/*" needs the slash, "/a*" does not
		{path: "/abc", want: "a-star"},
		{path: "/user/42", want: "user", params: []string{"id=42"}},
		{path: "/user/me", want: "user-me"},
		{path: "/user/", want: "everything"}, // a parameter is never empty
		{path: "/user/42/", want: "everything"},
		{path: "/user/42/posts/7", want: "user-posts", params: []string{"id=42", "post=7"}},
		{path: "/user/me/posts/7", want: "user-posts", params: []string{"id=me", "post=7"}},
		{path: "/files/", want: "files", params: []string{"path="}},
		{path: "/files/a/b/c.txt", want: "files", params: []string{"path=a/b/c.txt"}},
		{path: "/files", want: "everything"},
		{path: "/m1", want: "multi"},
		{path: "/m2/z", want: "multi", params: []string{"x=z"}},
		{path: "/anon/1/", want: "anon", params: []string{"id=1", ":ext="}},
		{path: "/anon/1/x/y", want: "anon", params: []string{"id=1", ":ext=x/y"}},
		{path: "/anon/1", want: "a-star"}, // "/a*" is a prefix of it
		{path: "/v1/models/foo:generate", want: "colon"},
		{path: "/v1/models/foo", want: "everything"},
		{path: "/zzz", want: "everything"},
	})
	if got := mustBuild(t, Spec{ID: "x", URI: "/x"}).Lookup((&probe{path: "/y"}).request(), &Match{}); got != nil {
		t.Errorf("unmatched path returned %q", got.ID)
	}
}

// TestOrder covers APISIX's ranking: exact, then literal-key length, then
// priority, then uri length, then configuration order.
func TestOrder(t *testing.T) {
	r := mustBuild(t,
		// a longer literal key beats a param route whatever the priority
		Spec{ID: "param", URI: "/k/:id", Priority: 100},
		Spec{ID: "prefix-longer-key", URI: "/k/1*"},
		// same key "/p/": priority first, then the longer uri
		Spec{ID: "p-star", URI: "/p/*", Priority: 1},
		Spec{ID: "p-param", URI: "/p/:id"},
		Spec{ID: "q-star", URI: "/q/*"},
		Spec{ID: "q-param", URI: "/q/:id"},
		// exact beats prefix even at lower priority
		Spec{ID: "e-prefix", URI: "/e/*", Priority: 9},
		Spec{ID: "e-exact", URI: "/e/x", Priority: -5},
		// equal everything: configuration order
		Spec{ID: "first", URI: "/same"},
		Spec{ID: "second", URI: "/same"},
		Spec{ID: "hi", URI: "/same2"},
		Spec{ID: "hi-prio", URI: "/same2", Priority: 3},
	)
	checkProbes(t, r, []probe{
		{path: "/k/12", want: "prefix-longer-key"},
		{path: "/k/2", want: "param", params: []string{"id=2"}},
		{path: "/p/1", want: "p-star"},
		{path: "/q/1", want: "q-param", params: []string{"id=1"}},
		{path: "/q/1/2", want: "q-star"},
		{path: "/e/x", want: "e-exact"},
		{path: "/same", want: "first"},
		{path: "/same2", want: "hi-prio"},
	})
}

func TestHosts(t *testing.T) {
	r := mustBuild(t,
		Spec{ID: "exact", URI: "/h", Host: "Api.Example.com", Priority: 2},
		Spec{ID: "wild", URI: "/h", Hosts: []string{"*.example.com", "other.org"}, Priority: 1},
		Spec{ID: "port", URI: "/p", Host: "example.com:8080"},
		Spec{ID: "any", URI: "/h"},
	)
	checkProbes(t, r, []probe{
		{path: "/h", host: "api.example.com", want: "exact"},
		{path: "/h", host: "API.EXAMPLE.COM", want: "exact"},
		{path: "/h", host: "x.api.example.com", want: "wild"},
		{path: "/h", host: "other.org", want: "wild"},
		{path: "/h", host: "example.com", want: "any"}, // "*.example.com" needs a label before
		{path: "/h", host: "", want: "any"},
		{path: "/p", host: "example.com", vars: &testVars{headers: map[string]string{"host": "example.com:8080"}}, want: "port"},
		{path: "/p", host: "example.com", vars: &testVars{headers: map[string]string{"host": "example.com:9090"}}, want: ""},
	})
}

func TestMethodsAndAddrs(t *testing.T) {
	r := mustBuild(t,
		Spec{ID: "get", URI: "/m", Methods: []string{"GET", "HEAD"}, Priority: 1},
		Spec{ID: "post", URI: "/m", Methods: []string{"POST"}},
		Spec{ID: "v4", URI: "/ip", RemoteAddrs: []string{"10.0.0.0/8", "192.0.2.7"}, Priority: 2},
		Spec{ID: "v6", URI: "/ip", RemoteAddr: "2001:db8::/32", Priority: 1},
		Spec{ID: "ip-any", URI: "/ip"},
	)
	checkProbes(t, r, []probe{
		{method: "GET", path: "/m", want: "get"},
		{method: "HEAD", path: "/m", want: "get"},
		{method: "POST", path: "/m", want: "post"},
		{method: "DELETE", path: "/m", want: ""},
		{method: "BREW", path: "/m", want: ""},
		{path: "/ip", addr: "10.1.2.3", want: "v4"},
		{path: "/ip", addr: "::ffff:10.1.2.3", want: "v4"},
		{path: "/ip", addr: "192.0.2.7", want: "v4"},
		{path: "/ip", addr: "192.0.2.8", want: "ip-any"},
		{path: "/ip", addr: "2001:db8::1", want: "v6"},
		{path: "/ip", want: "ip-any"},
	})
}

func TestUpdates(t *testing.T) {
	r := mustBuild(t, Spec{ID: "a", URI: "/a/:id"}, Spec{ID: "b", URI: "/a/b"})
	before := r.Table()
	if err := r.Insert(Spec{ID: "c", URI: "/a/*", Priority: 5}); err != nil {
		t.Fatal(err)
	}
	if err := r.Insert(Spec{ID: "c", URI: "/c"}); !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("second insert of c: %v", err)
	}
	checkProbes(t, r, []probe{{path: "/a/x", want: "c"}, {path: "/a/b", want: "b"}})
	// Replacing keeps the configuration-order slot.
	if err := r.Replace(Spec{ID: "a", URI: "/a/:id", Priority: 5}); err != nil {
		t.Fatal(err)
	}
	checkProbes(t, r, []probe{{path: "/a/x", want: "a", params: []string{"id=x"}}})
	if err := r.Put(Spec{ID: "a", URI: "/z"}); err != nil {
		t.Fatal(err)
	}
	checkProbes(t, r, []probe{{path: "/a/x", want: "c"}, {path: "/z", want: "a"}})
	if err := r.Delete("c"); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete("c"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := r.Replace(Spec{ID: "nope", URI: "/n"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replace of missing id: %v", err)
	}
	checkProbes(t, r, []probe{{path: "/a/x", want: ""}, {path: "/a/b", want: "b"}, {path: "/z", want: "a"}})
	if r.Table().Len() != 2 {
		t.Errorf("Len = %d, want 2", r.Table().Len())
	}
	// The version taken before the updates is untouched.
	var m Match
	if rt := before.Lookup((&probe{path: "/a/x"}).request(), &m); rt == nil || rt.ID != "a" {
		t.Errorf("old table changed: got %v", rt)
	}
	if before.Len() != 2 {
		t.Errorf("old Len = %d", before.Len())
	}
	// A failed update publishes nothing.
	cur := r.Table()
	if err := r.Put(Spec{ID: "bad", URI: "/x/*y/z"}); !errors.Is(err, ErrInvalidURI) {
		t.Fatalf("bad uri: %v", err)
	}
	if r.Table() != cur {
		t.Error("failed update published a table")
	}
	// Deleting everything leaves a tree that still answers.
	for _, id := range []string{"a", "b"} {
		if err := r.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	if !emptyTable(r.Table()) {
		t.Errorf("empty table keeps nodes:\n%s", dumpTable(r.Table(), true))
	}
}

// TestPruneKeepsShape checks that deleting routes folds the tree back to
// what a fresh build of the remaining routes gives.
func TestPruneKeepsShape(t *testing.T) {
	specs := []Spec{
		{ID: "1", URI: "/api/v1/users"}, {ID: "2", URI: "/api/v1/user/:id"},
		{ID: "3", URI: "/api/v2/*"}, {ID: "4", URI: "/apix"}, {ID: "5", URI: "/api/v1/users/:id/x"},
	}
	r := mustBuild(t, specs...)
	for _, id := range []string{"2", "5", "4"} {
		if err := r.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	fresh := mustBuild(t, specs[0], specs[2])
	if a, b := dumpTable(r.Table(), false), dumpTable(fresh.Table(), false); a != b {
		t.Errorf("after deletes:\n%s\nfresh build:\n%s", a, b)
	}
	if err := checkTable(r.Table()); err != nil {
		t.Error(err)
	}
}

func TestInvalidSpecs(t *testing.T) {
	cases := []struct {
		spec Spec
		err  error
		msg  string
	}{
		{Spec{URI: "/a"}, ErrInvalidRoute, "missing id"},
		{Spec{ID: "x"}, ErrInvalidRoute, "neither uri nor uris"},
		{Spec{ID: "x", URI: "/a", URIs: []string{"/b"}}, ErrInvalidRoute, "both set"},
		{Spec{ID: "x", URI: "/a", Host: "a", Hosts: []string{"b"}}, ErrInvalidRoute, "host and hosts"},
		{Spec{ID: "x", URI: "/a", Host: "a b"}, ErrInvalidRoute, "not allowed"},
		{Spec{ID: "x", URI: "/a", Host: "*"}, ErrInvalidRoute, "empty host"},
		{Spec{ID: "x", URI: "/a", Methods: []string{"get"}}, ErrInvalidRoute, "unknown method"},
		{Spec{ID: "x", URI: "/a", RemoteAddr: "10.0.0.0/33"}, ErrInvalidRoute, "remote address"},
		{Spec{ID: "x", URI: "/a", RemoteAddr: "a", RemoteAddrs: []string{"b"}}, ErrInvalidRoute, "both set"},
		{Spec{ID: "x", URI: "a"}, ErrInvalidURI, "must start with '/'"},
		{Spec{ID: "x", URI: "/a/:"}, ErrInvalidURI, "without a name"},
		{Spec{ID: "x", URI: "/a/:id/:id"}, ErrInvalidURI, "twice"},
		{Spec{ID: "x", URI: "/a/*p/b"}, ErrInvalidURI, "last segment"},
		{Spec{ID: "x", URI: "/a/b*c"}, ErrInvalidURI, "inside segment"},
		{Spec{ID: "x", URI: "/" + strings.Repeat("a", maxURILen)}, ErrInvalidURI, "longer"},
		{Spec{ID: "x", URI: "/a", Vars: []any{"arg_a", "==", "1"}}, ErrInvalidVars, "wrapped inside brackets"},
		{Spec{ID: "x", URI: "/a", Vars: []any{[]any{"arg_a", "=~", "1"}}}, ErrInvalidVars, "invalid operator"},
		{Spec{ID: "x", URI: "/a", Vars: []any{[]any{"arg_a", "~~", "(?<=a)b"}}}, ErrInvalidVars, "RE2"},
		{Spec{ID: "x", URI: "/a", Vars: []any{[]any{"arg_a", "~~", 1.0}}}, ErrInvalidVars, "regex string"},
		{Spec{ID: "x", URI: "/a", Vars: []any{[]any{"arg_a", "in", "1"}}}, ErrInvalidVars, "needs a list"},
		{Spec{ID: "x", URI: "/a", Vars: []any{[]any{"remote_addr", "ipmatch", []any{"300.1.1.1"}}}}, ErrInvalidVars, "ipmatch"},
		{Spec{ID: "x", URI: "/a", Vars: []any{"OR", []any{"arg_a", "==", "1"}}}, ErrInvalidVars, "too short"},
		{Spec{ID: "x", URI: "/a", Vars: []any{[]any{"arg_a", "?", "==", "1"}}}, ErrInvalidVars, "bad 'not'"},
		{Spec{ID: "x", URI: "/a", Vars: []any{[]any{1.0, "==", "1"}}}, ErrInvalidVars, "invalid expression"},
		{Spec{ID: "x", URI: "/a", Vars: []any{[]any{"a"}}}, ErrInvalidVars, "invalid expression"},
	}
	for _, c := range cases {
		err := New().Insert(c.spec)
		if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: got %v, want %v containing %q", c.spec, err, c.err, c.msg)
		}
	}
	if err := New().Build([]Spec{{ID: "a", URI: "/a"}, {ID: "a", URI: "/b"}}); !errors.Is(err, ErrDuplicateID) {
		t.Errorf("duplicate ids in build: %v", err)
	}
}

func TestExplain(t *testing.T) {
	r := mustBuild(t,
		Spec{ID: "m", URI: "/x", Methods: []string{"POST"}, Priority: 5},
		Spec{ID: "h", URI: "/x", Host: "*.a.com", Priority: 4},
		Spec{ID: "ip", URI: "/x", RemoteAddr: "10.0.0.0/8", Priority: 3},
		Spec{ID: "v", URI: "/x", Vars: []any{[]any{"arg_a", "==", "1"}, []any{"arg_b", "==", "2"}}, Priority: 2},
		Spec{ID: "win", URI: "/*", Priority: 1},
		Spec{ID: "late", URI: "/*"},
	)
	req := (&probe{path: "/x", host: "b.com", addr: "192.0.2.1", vars: &testVars{args: map[string]string{"a": "1", "b": "3"}}}).request()
	x := r.Table().Explain(req)
	got := x.String()
	want := `/x: route "win"
  1. "m" uri=/x priority=5: rejected: method "GET" not in [POST]
  2. "h" uri=/x priority=4: rejected: host "b.com" not in [*.a.com]
  3. "ip" uri=/x priority=3: rejected: remote address 192.0.2.1 not in [10.0.0.0/8]
  4. "v" uri=/x priority=2: rejected: vars clause 2 ["arg_b","==","2"] is false
  5. "win" uri=/* priority=1: selected
  6. "late" uri=/* priority=0: not reached: route "win" ranks higher
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestWideFanout crosses the 8- and 16-children boundaries where a node's
// child index moves from one packed word to two to the wide child map, growing and
// shrinking.
func TestWideFanout(t *testing.T) {
	r := New()
	var specs []Spec
	for c := byte('a'); c <= 'z'; c++ {
		specs = append(specs, Spec{ID: string(c), URI: "/x/" + string(c) + "/y"})
		if err := r.Insert(specs[len(specs)-1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Insert(Spec{ID: "param", URI: "/x/:p/y", Priority: -1}); err != nil {
		t.Fatal(err)
	}
	probes := []probe{{path: "/x/0/y", want: "param", params: []string{"p=0"}}, {path: "/x/ab/y", want: "param", params: []string{"p=ab"}}}
	for _, s := range specs {
		probes = append(probes, probe{path: s.URI, want: s.ID})
	}
	checkProbes(t, r, probes)
	// Delete in an order that passes through every child count.
	for i, j := 0, len(specs)-1; i <= j; i, j = i+1, j-1 {
		for _, k := range []int{i, j} {
			if err := r.Delete(specs[k].ID); err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
		}
		var left []Spec
		var want []probe
		for _, s := range specs[i+1 : j] {
			left = append(left, s)
			want = append(want, probe{path: s.URI, want: s.ID})
		}
		want = append(want, probe{path: specs[i].URI, want: "param", params: []string{"p=" + specs[i].ID}})
		checkProbes(t, r, want)
		fresh := mustBuild(t, append(left, Spec{ID: "param", URI: "/x/:p/y", Priority: -1})...)
		if err := checkTable(r.Table()); err != nil {
			t.Fatal(err)
		}
		if err := checkTable(fresh.Table()); err != nil {
			t.Fatal(err)
		}
		checkProbes(t, fresh, want)
		if a, b := dumpTable(r.Table(), false), dumpTable(fresh.Table(), false); a != b {
			t.Fatalf("after deleting down to %d children:\n%s\nfresh:\n%s", len(left), a, b)
		}
	}
}

// TestBuildLargeErrors covers the parallel compile of a large Build: the
// error reported is the first in spec order, and nothing is published.
func TestBuildLargeErrors(t *testing.T) {
	specs := make([]Spec, 6000)
	for i := range specs {
		specs[i] = Spec{ID: fmt.Sprint("r", i), URI: fmt.Sprintf("/a/%d/:x", i)}
	}
	r := mustBuild(t, specs...)
	if r.Table().Len() != len(specs) {
		t.Fatalf("Len = %d", r.Table().Len())
	}
	cur := r.Table()
	bad := slices.Clone(specs)
	bad[5500].URI = "/x/*y/z"
	bad[1200].Methods = []string{"FETCH"}
	if err := r.Build(bad); !errors.Is(err, ErrInvalidRoute) || !strings.Contains(err.Error(), `"r1200"`) {
		t.Errorf("got %v, want the error of r1200", err)
	}
	bad[1200].Methods = nil
	bad[5999].ID = "r3"
	if err := r.Build(bad[:5000]); err != nil {
		t.Errorf("valid prefix: %v", err)
	}
	if err := r.Build(bad); !errors.Is(err, ErrInvalidURI) {
		t.Errorf("got %v, want the uri error of r5500", err)
	}
	bad[5500].URI = "/ok"
	if err := r.Build(bad); !errors.Is(err, ErrDuplicateID) {
		t.Errorf("got %v, want duplicate r3", err)
	}
	if r.Table() == cur || r.Table().Len() != 5000 {
		t.Errorf("table after failed builds: Len %d", r.Table().Len())
	}
}
