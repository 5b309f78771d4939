package route_test

import (
	"fmt"
	"net/netip"

	"github.com/sluice-gateway/sluice/route"
)

func Example() {
	r := route.New()
	err := r.Build([]route.Spec{
		{ID: "user", URI: "/user/:id", Methods: []string{"GET"}, Value: "user-handler"},
		{ID: "me", URI: "/user/me", Value: "me-handler"},
		{ID: "files", URI: "/files/*path", Hosts: []string{"*.example.com"}, Value: "files-handler"},
		{ID: "api", URI: "/api/*", Vars: []any{[]any{"arg_v", "==", "2"}}, Priority: 10, Value: "api-v2"},
		{ID: "api-any", URI: "/api/*", Value: "api"},
	})
	if err != nil {
		panic(err)
	}

	// One Match per connection, reused: lookups then allocate nothing.
	var m route.Match
	lookup := func(method, path, host string) {
		req := route.Request{Method: []byte(method), Path: []byte(path), Host: []byte(host),
			RemoteAddr: netip.MustParseAddr("192.0.2.1")}
		if rt := r.Lookup(&req, &m); rt != nil {
			fmt.Printf("%s %s -> %s", method, path, rt.Value)
			for _, p := range m.Params {
				fmt.Printf(" %s=%s", p.Key, p.Value)
			}
			fmt.Println()
			return
		}
		fmt.Printf("%s %s -> 404\n", method, path)
	}
	lookup("GET", "/user/42", "")
	lookup("GET", "/user/me", "")
	lookup("POST", "/user/42", "")
	lookup("GET", "/files/a/b.txt", "cdn.example.com")
	lookup("GET", "/files/a/b.txt", "example.com")
	lookup("GET", "/api/orders", "")

	// Explain says why each candidate lost.
	req := route.Request{Method: []byte("POST"), Path: []byte("/user/42")}
	fmt.Print(r.Table().Explain(&req))

	// Output:
	// GET /user/42 -> user-handler id=42
	// GET /user/me -> me-handler
	// POST /user/42 -> 404
	// GET /files/a/b.txt -> files-handler path=a/b.txt
	// GET /files/a/b.txt -> 404
	// GET /api/orders -> api
	// /user/42: no route
	//   1. "user" uri=/user/:id priority=0: rejected: method "POST" not in [GET]
}
