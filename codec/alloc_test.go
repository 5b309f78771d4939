//go:build !race

package codec

import (
	"strings"
	"testing"
)

// Allocation budgets: parsing and head writing allocate nothing once a
// Request, Response, Edits and HeadWriter have been used once.

func TestAllocsParseRequest(t *testing.T) {
	inputs := [][]byte{
		[]byte("GET /products?id=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive, X-Hop\r\n" +
			"Transfer-Encoding: chunked\r\nUpgrade: websocket\r\nExpect: 100-continue\r\nAccept: */*\r\n\r\n"),
		[]byte("GET http://h.example:8080/a HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n"),
		[]byte("GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n"), // the error path too
	}
	var r Request
	for _, in := range inputs {
		r.Reset()
		r.Parse(in)
		if n := testing.AllocsPerRun(100, func() {
			r.Reset()
			r.Parse(in)
		}); n != 0 {
			t.Errorf("%q: %v allocs per parse", in, n)
		}
	}
	// Resumed parsing, a few bytes at a time.
	in := inputs[0]
	if n := testing.AllocsPerRun(100, func() {
		r.Reset()
		for end := 7; end < len(in)+7; end += 7 {
			r.Parse(in[:min(end, len(in))])
		}
	}); n != 0 {
		t.Errorf("split: %v allocs per parse", n)
	}
}

func TestAllocsParseResponse(t *testing.T) {
	in := []byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\nServer: s\r\n\r\n")
	var r Response
	r.Parse(in)
	if n := testing.AllocsPerRun(100, func() {
		r.Reset()
		r.Parse(in)
	}); n != 0 {
		t.Errorf("%v allocs per parse", n)
	}
}

func TestAllocsBody(t *testing.T) {
	in := []byte("5;a=\"b\"\r\nhello\r\n" + strings.Repeat("3\r\nabc\r\n", 10) + "0\r\nT: v\r\n\r\n")
	var b Body
	if n := testing.AllocsPerRun(100, func() {
		b.Reset(Framing{Kind: BodyChunked}, Limits{})
		b.Skip(in)
	}); n != 0 {
		t.Errorf("%v allocs per chunked body", n)
	}
}

func TestAllocsWriteHead(t *testing.T) {
	in := []byte("GET http://up.example/p?q HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Hop\r\n" +
		"X-Hop: 1\r\nKeep-Alive: 5\r\nAccept: */*\r\nX-A: 1\r\nX-B: 2\r\n\r\n")
	var r Request
	if _, err := r.Parse(in); err != nil {
		t.Fatal(err)
	}
	var resp Response
	if _, err := resp.Parse([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nServer: s\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	var w HeadWriter
	var e Edits
	name, value, host, del := []byte("X-A"), []byte("v"), []byte("backend:80"), []byte("X-B")
	reason := []byte("Bad Gateway")
	run := func() {
		e.Reset()
		e.Set(name, value)
		e.Add(name, value)
		e.Del(del)
		e.SetHost(host)
		w.Request(&r, &e)
		w.Request(&r, nil)
		e.SetStatus(502, reason)
		w.Response(&resp, &e)
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("%v allocs per head write", n)
	}
}
