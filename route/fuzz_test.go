package route

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLookup inserts fuzzed uris (which must be accepted or refused with
// an error, never a panic), checks lookups of a fuzzed path against the
// linear reference, then deletes the routes again one by one.
func FuzzLookup(f *testing.F) {
	f.Add("/a/:id|/a/*|/a/b", "/a/b", uint8(3))
	f.Add("/files/*p|/f*|/:x/:y", "/files/a/b", uint8(0))
	f.Add("*|/|/:a/b/", "/q/b/", uint8(5))
	f.Add("/v1/foo:bar|/v1/:m", "/v1/foo:bar", uint8(1))
	f.Add("/a/:id/*|/a/:id/:x*", "/a/1/", uint8(2))
	f.Fuzz(func(t *testing.T, uris, path string, prios uint8) {
		r := New()
		ref := &linear{}
		for i, u := range strings.Split(uris, "|") {
			s := Spec{ID: fmt.Sprint("r", i), URI: u, Priority: int(prios>>uint(i%8)) & 1}
			if err := r.Insert(s); err != nil {
				continue
			}
			if utf8.ValidString(u) {
				ref.put(s)
			} else if err := r.Delete(s.ID); err != nil {
				t.Fatal(err) // the reference's regexps need UTF-8 patterns
			}
		}
		var m Match
		req := &Request{Method: []byte("GET"), Path: []byte(path)}
		got := ""
		if rt := r.Lookup(req, &m); rt != nil {
			got = rt.ID
		}
		var gotParams []string
		for _, p := range m.Params {
			gotParams = append(gotParams, p.Key+"="+string(p.Value))
		}
		want, wantParams := ref.match("GET", path, "", netip.Addr{}, nil)
		if got != want || strings.Join(gotParams, "\x00") != strings.Join(wantParams, "\x00") {
			t.Fatalf("uris %q path %q: tree %q %q, linear %q %q\n%s", uris, path, got, gotParams, want, wantParams, r.Table().Explain(req))
		}
		for _, s := range ref.specs {
			if err := r.Delete(s.ID); err != nil {
				t.Fatal(err)
			}
		}
		if !emptyTable(r.Table()) {
			t.Fatalf("tree not empty after deleting every route:\n%s", dumpTable(r.Table(), true))
		}
	})
}
