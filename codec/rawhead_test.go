package codec

import "testing"

func TestRawHead(t *testing.T) {
	const req = "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n"
	var r Request
	if _, err := r.Parse([]byte(req + "body")); err != nil {
		t.Fatal(err)
	}
	if got := string(r.Head()); got != req {
		t.Errorf("request head %q", got)
	}
	const resp = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"
	var s Response
	if _, err := s.Parse([]byte(resp + "body")); err != nil {
		t.Fatal(err)
	}
	if got := string(s.Head()); got != resp {
		t.Errorf("response head %q", got)
	}
}
