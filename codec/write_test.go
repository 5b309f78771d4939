package codec

import (
	"bytes"
	"testing"
)

func writeReq(t *testing.T, in string, e *Edits) (string, [][]byte, *Request) {
	t.Helper()
	r := new(Request)
	if _, err := r.Parse([]byte(in)); err != nil {
		t.Fatalf("%q: %v", in, err)
	}
	var w HeadWriter
	iov := w.Request(r, e)
	return string(bytes.Join(iov, nil)), iov, r
}

func TestWriteRequestUnchanged(t *testing.T) {
	in := "GET /a?b HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nX-A: 1\r\n\r\nBODY"
	out, iov, _ := writeReq(t, in, nil)
	if out != in[:len(in)-4] {
		t.Fatalf("got %q", out)
	}
	// Unchanged heads are one iovec pointing at the original buffer.
	if len(iov) != 1 {
		t.Fatalf("%d iovecs, want 1", len(iov))
	}
}

func TestWriteRequestHopByHop(t *testing.T) {
	in := "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: 5\r\nX-Hop: 1\r\n" +
		"Proxy-Connection: x\r\nTE: trailers\r\nTrailer: T\r\nUpgrade: websocket\r\nX-Keep: 2\r\nconnection: x-other\r\nX-Other: 3\r\n\r\n"
	out, _, _ := writeReq(t, in, nil)
	want := "GET / HTTP/1.1\r\nHost: h\r\nX-Keep: 2\r\n\r\n"
	if out != want {
		t.Fatalf("got  %q\nwant %q", out, want)
	}
}

// A client cannot make the proxy strip framing or Host by naming them as
// connection options.
func TestWriteRequestConnectionNamesFraming(t *testing.T) {
	in := "POST / HTTP/1.1\r\nHost: h\r\nConnection: Content-Length, Host, Transfer-Encoding, X-Hop\r\n" +
		"Content-Length: 5\r\nX-Hop: 1\r\n\r\n"
	out, _, _ := writeReq(t, in, nil)
	if want := "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"; out != want {
		t.Fatalf("got  %q\nwant %q", out, want)
	}
}

func TestWriteRequestTunnel(t *testing.T) {
	in := "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n"
	var e Edits
	e.Tunnel = true
	out, _, _ := writeReq(t, in, &e)
	want := "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nConnection: upgrade\r\n\r\n"
	if out != want {
		t.Fatalf("got  %q\nwant %q", out, want)
	}
	// h2c is never tunnelled, Tunnel or not.
	in = "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAA\r\n\r\n"
	out, _, _ = writeReq(t, in, &e)
	if want := "GET / HTTP/1.1\r\nHost: h\r\n\r\n"; out != want {
		t.Fatalf("h2c: got %q", out)
	}
}

func TestWriteRequestEdits(t *testing.T) {
	in := "POST /old?q=1 HTTP/1.1\r\nHost: client.example\r\nX-A: 1\r\nX-B: 2\r\nx-a: 3\r\nX-C: 4\r\nContent-Length: 0\r\n\r\n"
	var e Edits
	e.Set([]byte("X-A"), []byte("new"))
	e.Del([]byte("x-c"))
	e.Add([]byte("X-B"), []byte("added"))
	e.Set([]byte("X-Forwarded-For"), []byte("1.2.3.4"))
	e.SetTarget([]byte("/new/path?q=1"))
	e.SetHost([]byte("backend:8080"))
	out, iov, _ := writeReq(t, in, &e)
	want := "POST /new/path?q=1 HTTP/1.1\r\nHost: backend:8080\r\nX-A: new\r\nX-B: 2\r\nContent-Length: 0\r\n" +
		"X-B: added\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n"
	if out != want {
		t.Fatalf("got  %q\nwant %q", out, want)
	}
	// Unchanged runs still point into the original buffer.
	if !bytes.Contains([]byte(in), iov[len(iov)-1]) && string(iov[len(iov)-1]) != "\r\n" {
		t.Fatalf("last iovec %q", iov[len(iov)-1])
	}
	// The last Set or Del of a name wins.
	e.Reset()
	e.Set([]byte("X-A"), []byte("first"))
	e.Set([]byte("x-a"), []byte("second"))
	e.Del([]byte("X-B"))
	e.Set([]byte("X-B"), []byte("back"))
	e.Set([]byte("X-C"), []byte("gone"))
	e.Del([]byte("X-C"))
	out, _, _ = writeReq(t, in, &e)
	want = "POST /old?q=1 HTTP/1.1\r\nHost: client.example\r\nx-a: second\r\nX-B: back\r\nContent-Length: 0\r\n\r\n"
	if out != want {
		t.Fatalf("got  %q\nwant %q", out, want)
	}
}

func TestWriteRequestAbsoluteForm(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"GET http://up.example:81/p?q HTTP/1.1\r\nHost: ignored\r\nX: 1\r\n\r\n", "GET /p?q HTTP/1.1\r\nHost: up.example:81\r\nX: 1\r\n\r\n"},
		{"GET http://up.example HTTP/1.1\r\nHost: h\r\n\r\n", "GET / HTTP/1.1\r\nHost: up.example\r\n\r\n"},
		{"GET http://up.example?x HTTP/1.0\r\n\r\n", "GET /?x HTTP/1.0\r\nHost: up.example\r\n\r\n"},
		{"OPTIONS http://up.example HTTP/1.1\r\nHost: h\r\n\r\n", "OPTIONS * HTTP/1.1\r\nHost: up.example\r\n\r\n"},
	} {
		if out, _, _ := writeReq(t, tt.in, nil); out != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.in, out, tt.want)
		}
	}
}

func TestWriteResponse(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nServer: s\r\n\r\nok"
	var r Response
	if _, err := r.Parse([]byte(in)); err != nil {
		t.Fatal(err)
	}
	var w HeadWriter
	var e Edits
	e.SetStatus(503, []byte("Service Unavailable"))
	e.Set([]byte("Server"), []byte("sluice"))
	out := string(bytes.Join(w.Response(&r, &e), nil))
	if want := "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\nServer: sluice\r\n\r\n"; out != want {
		t.Fatalf("got  %q\nwant %q", out, want)
	}
	out = string(bytes.Join(w.Response(&r, nil), nil))
	if want := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: s\r\n\r\n"; out != want {
		t.Fatalf("got  %q\nwant %q", out, want)
	}
	in = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: a\r\n\r\n"
	r.Reset()
	if _, err := r.Parse([]byte(in)); err != nil || !r.Upgrade() || r.Framing().Kind != BodyTunnel {
		t.Fatal(err)
	}
	e.Reset()
	e.Tunnel = true
	out = string(bytes.Join(w.Response(&r, &e), nil))
	if want := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: a\r\nConnection: upgrade\r\n\r\n"; out != want {
		t.Fatalf("got  %q\nwant %q", out, want)
	}
}
