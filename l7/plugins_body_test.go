package l7

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// post_arg in route vars reads a form body that came with the head; one
// that is chunked (not there yet when the route is matched) is absent.
func TestPostArgRouteVars(t *testing.T) {
	form, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "form %s", b)
	})
	other, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "other %s", b)
	})
	p := startProxy(t, fmt.Sprintf(`routes:
  - {id: form, uri: /post, priority: 1, vars: [[post_arg_id, "==", "1"]], upstream: {nodes: {%q: 1}}}
  - {id: other, uri: /post, upstream: {nodes: {%q: 1}}}
`, form, other), DefaultOptions())
	for _, tt := range []struct {
		body io.Reader
		want string
	}{
		{strings.NewReader("id=1"), "form id=1"},
		{strings.NewReader("id=2"), "other id=2"},
		{io.MultiReader(strings.NewReader("id=1")), "other id=1"}, // no length: sent chunked
	} {
		rq, _ := http.NewRequest("POST", p.url+"/post", tt.body)
		rq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultClient.Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != tt.want {
			t.Errorf("got %q, want %q", b, tt.want)
		}
	}
}
