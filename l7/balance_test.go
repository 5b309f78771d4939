package l7

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBalanceE2E(t *testing.T) {
	for _, tr := range []string{"reactor", "std"} {
		t.Run(tr, func(t *testing.T) {
			t.Run("CHashKeys", testCHashKeys)
			t.Run("LeastConnPrefersIdle", testLeastConnPrefersIdle)
			t.Run("RetryPassesOverDeadNode", testRetryPassesOverDeadNode)
			t.Run("EWMAAvoidsSlowNode", testEWMAAvoidsSlowNode)
		})
	}
}

// nodesOf runs n upstreams that answer with their own name.
func nodesOf(t *testing.T, n int) (yaml string, names map[string]string) {
	names = map[string]string{}
	var list []string
	for i := range n {
		name := fmt.Sprint("node", i)
		up, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, name) })
		names[up] = name
		list = append(list, fmt.Sprintf("%q: 1", up))
	}
	return "{" + strings.Join(list, ", ") + "}", names
}

// chash keys from a header, a cookie, a query argument and a combination of
// variables: a key always reaches the same node, and keys spread.
func testCHashKeys(t *testing.T) {
	nodes, _ := nodesOf(t, 4)
	routes := "routes:\n" +
		"  - {id: h, uri: /h, upstream: {type: chash, hash_on: header, key: X-User, nodes: " + nodes + "}}\n" +
		"  - {id: c, uri: /c, upstream: {type: chash, hash_on: cookie, key: sid, nodes: " + nodes + "}}\n" +
		"  - {id: a, uri: /a, upstream: {type: chash, key: arg_user, nodes: " + nodes + "}}\n" +
		"  - {id: v, uri: /v, upstream: {type: chash, hash_on: vars_combinations, key: \"$http_x_user-$arg_x\", nodes: " + nodes + "}}\n"
	p := startProxy(t, routes, DefaultOptions())
	cl := client()
	do := func(path, user string) string {
		req, _ := http.NewRequest("GET", p.url+path, nil)
		switch path {
		case "/h", "/v":
			req.Header.Set("X-User", user)
			req.URL.RawQuery = "x=1"
		case "/c":
			req.Header.Set("Cookie", "theme=dark; sid="+user+"; lang=en")
		case "/a":
			req.URL.RawQuery = "a=1&user=" + user + "&user=other"
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: status %d", path, user, resp.StatusCode)
		}
		return string(b)
	}
	for _, path := range []string{"/h", "/c", "/a", "/v"} {
		seen := map[string]bool{}
		for i := range 40 {
			user := fmt.Sprint("user-", i)
			first := do(path, user)
			seen[first] = true
			for range 2 {
				if got := do(path, user); got != first {
					t.Fatalf("%s key %s went to %s, then %s", path, user, first, got)
				}
			}
		}
		if len(seen) < 3 {
			t.Errorf("%s: 40 keys reached only %v", path, seen)
		}
	}
	// Without the header, the client address is the key: one node.
	seen := map[string]bool{}
	for range 10 {
		_, body, _ := get(t, cl, p.url+"/h")
		seen[body] = true
	}
	if len(seen) != 1 {
		t.Errorf("requests without the key (one client address) reached %v", seen)
	}
}

// least_conn sends new requests to the node that is not busy.
func testLeastConnPrefersIdle(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan string, 4)
	handler := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				arrived <- name
				<-release
			}
			fmt.Fprint(w, name)
		}
	}
	a, _ := httpUpstream(t, handler("a"))
	b, _ := httpUpstream(t, handler("b"))
	p := startProxy(t, fmt.Sprintf("routes:\n  - {id: l, uri: \"/*\", upstream: {type: least_conn, nodes: {%q: 1, %q: 1}}}\n", a, b), DefaultOptions())
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := client().Get(p.url + "/slow")
		if err == nil {
			resp.Body.Close()
		}
	}()
	var busy string
	select {
	case busy = <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request reached no node")
	}
	cl := client()
	for range 10 {
		if _, body, _ := get(t, cl, p.url+"/fast"); body == busy {
			t.Fatalf("with node %s busy, a request went to it", busy)
		}
	}
	close(release)
	<-done
	// Both idle again: requests alternate.
	seen := map[string]int{}
	for range 10 {
		_, body, _ := get(t, cl, p.url+"/fast")
		seen[body]++
	}
	if seen["a"] != 5 || seen["b"] != 5 {
		t.Errorf("with both nodes idle, 10 requests went %v", seen)
	}
}

// A dead node's connect failure moves the request to the next node of the
// ring; the key's other requests follow (the node stays tried per request
// only, so each one pays the failed connect).
func testRetryPassesOverDeadNode(t *testing.T) {
	live, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "live") })
	dead := "127.0.0.1:1"
	p := startProxy(t, fmt.Sprintf("routes:\n  - {id: r, uri: \"/*\", upstream: {type: chash, hash_on: header, key: X-User, nodes: {%q: 1, %q: 1}}}\n", dead, live), DefaultOptions())
	cl := client()
	for i := range 20 {
		req, _ := http.NewRequest("GET", p.url+"/x", nil)
		req.Header.Set("X-User", fmt.Sprint("u", i))
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("key u%d: status %d, want 200 from the live node", i, resp.StatusCode)
		}
	}
}

// ewma learns response times from completed exchanges and steers requests
// away from a node that answers slowly.
func testEWMAAvoidsSlowNode(t *testing.T) {
	slow, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		fmt.Fprint(w, "slow")
	})
	fast, _ := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "fast") })
	p := startProxy(t, fmt.Sprintf("routes:\n  - {id: e, uri: \"/*\", upstream: {type: ewma, nodes: {%q: 1, %q: 1}}}\n", slow, fast), DefaultOptions())
	cl := client()
	seen := map[string]int{}
	for range 40 {
		_, body, _ := get(t, cl, p.url+"/x")
		seen[body]++
	}
	// Round-robin would give the slow node 20.
	if seen["slow"] > 6 {
		t.Errorf("40 requests went %v", seen)
	}
}
