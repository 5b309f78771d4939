package plugin_test

import (
	"testing"

	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

func TestURIArg(t *testing.T) {
	tests := []struct {
		target, name string
		val          string
		ok, isNil    bool
		del          string // target after DelURIArg(name)
	}{
		{"/a?k=v", "k", "v", true, false, "/a"},
		{"/a?x=1&k=v&y=2", "k", "v", true, false, "/a?x=1&y=2"},
		{"/a?K=v", "k", "", false, true, "/a?K=v"},
		{"/a?k=a+b%2fc%25zz", "k", "a b/c%zz", true, false, "/a"},
		{"/a?%6b=v&k%3d=w", "k", "v", true, false, "/a?k%3d=w"},
		{"/a?k=1&k=2", "k", "", true, true, "/a"},
		{"/a?k", "k", "", true, true, "/a"},
		{"/a?k=", "k", "", true, false, "/a"},
		{"/a?&&k=v&&z", "k", "v", true, false, "/a?z"},
		{"/a", "k", "", false, true, "/a"},
		{"http://h/p?k=v&z=1", "k", "v", true, false, "/p?z=1"},
	}
	for _, tt := range tests {
		r := plugintest.NewRequest("GET "+tt.target+" HTTP/1.1\r\nHost: h\r\n\r\n", "127.0.0.1:1")
		c := r.Reset(nil)
		val, ok := c.URIArg(tt.name)
		if string(val) != tt.val || ok != tt.ok || (val == nil) != tt.isNil {
			t.Errorf("%s: URIArg(%q) = %q (nil %v), %v; want %q (nil %v), %v", tt.target, tt.name, val, val == nil, ok, tt.val, tt.isNil, tt.ok)
		}
		c.DelURIArg(tt.name)
		if got := r.Upstream(); got[:len("GET "+tt.del+" ")] != "GET "+tt.del+" " {
			t.Errorf("%s: DelURIArg(%q): upstream %q, want target %q", tt.target, tt.name, got, tt.del)
		}
	}
}
