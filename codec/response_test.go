package codec

import (
	"errors"
	"testing"
)

func TestResponseParse(t *testing.T) {
	type want struct {
		err       error
		status    int
		reason    string
		framing   Framing
		keepAlive bool
	}
	tests := []struct {
		in     string
		method Method
		want   want
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", MethodGet, want{status: 200, reason: "OK", framing: Framing{BodyLength, 5}, keepAlive: true}},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", MethodHead, want{status: 200, reason: "OK", keepAlive: true}},
		{"HTTP/1.1 200 Fine  Thanks\r\nContent-Length: 0\r\n\r\n", MethodGet, want{status: 200, reason: "Fine  Thanks", keepAlive: true}},
		{"HTTP/1.1 301\r\nContent-Length: 0\r\n\r\n", MethodGet, want{status: 301, keepAlive: true}},
		{"HTTP/1.1 204 \r\nContent-Length: 7\r\n\r\n", MethodGet, want{status: 204, keepAlive: true}},
		{"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", MethodGet, want{status: 304, reason: "Not Modified", keepAlive: true}},
		{"HTTP/1.1 100 Continue\r\n\r\n", MethodPost, want{status: 100, reason: "Continue", keepAlive: true}},
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", MethodGet, want{status: 101, reason: "Switching Protocols", framing: Framing{Kind: BodyTunnel}, keepAlive: true}},
		{"HTTP/1.1 200 Connection established\r\n\r\n", MethodConnect, want{status: 200, reason: "Connection established", framing: Framing{Kind: BodyTunnel}, keepAlive: true}},
		{"HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n", MethodConnect, want{status: 407, reason: "Auth", keepAlive: true}},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", MethodGet, want{status: 200, reason: "OK", framing: Framing{Kind: BodyChunked}, keepAlive: true}},
		{"HTTP/1.1 200 OK\r\n\r\n", MethodGet, want{status: 200, reason: "OK", framing: Framing{Kind: BodyUntilClose}}},
		{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", MethodGet, want{status: 200, reason: "OK", framing: Framing{BodyLength, 1}}},
		{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n", MethodGet, want{status: 200, reason: "OK", framing: Framing{BodyLength, 1}, keepAlive: true}},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n", MethodGet, want{status: 200, reason: "OK", framing: Framing{BodyLength, 1}}},
		{"\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", MethodGet, want{status: 200, reason: "OK", keepAlive: true}},

		{"HTTP/1.1 099 Low\r\n\r\n", MethodGet, want{err: ErrBadStatusLine}},
		{"HTTP/1.1 600 High\r\n\r\n", MethodGet, want{err: ErrBadStatusLine}},
		{"HTTP/1.1 20 OK\r\n\r\n", MethodGet, want{err: ErrBadStatusLine}},
		{"HTTP/1.1  200 OK\r\n\r\n", MethodGet, want{err: ErrBadStatusLine}},
		{"HTTP/1.1 200OK\r\n\r\n", MethodGet, want{err: ErrBadStatusLine}},
		{"HTTP/1.1 200 O\x00K\r\n\r\n", MethodGet, want{err: ErrBadStatusLine}},
		{"HTTP/1.1\t200 OK\r\n\r\n", MethodGet, want{err: ErrBadStatusLine}},
		{"HTTP/2 200 OK\r\n\r\n", MethodGet, want{err: ErrVersionNotSupported}},
		{"HTTP/1.1 200 OK\nX: 1\r\n\r\n", MethodGet, want{err: ErrBareLF}},
		{"HTTP/1.1 200 OK\r\nX: 1\r\n y\r\n\r\n", MethodGet, want{err: ErrObsFold}},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", MethodGet, want{err: ErrDuplicateContentLength}},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", MethodGet, want{err: ErrLengthAndChunked}},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", MethodGet, want{err: ErrUnsupportedTransferEncoding}},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", MethodGet, want{err: ErrBadTransferEncoding}},
		{"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", MethodGet, want{err: ErrBadTransferEncoding}},
	}
	for _, tt := range tests {
		for _, step := range []int{len(tt.in), 1, 5} {
			var r Response
			var err error
			for end := step; ; end += step {
				if end > len(tt.in) {
					end = len(tt.in)
				}
				if end == step {
					r.Reset()
					r.RequestMethod = tt.method
				}
				_, err = r.Parse([]byte(tt.in[:end]))
				if err != ErrNeedMore || end == len(tt.in) {
					break
				}
			}
			if tt.want.err != nil {
				if !errors.Is(err, tt.want.err) {
					t.Errorf("%q step %d: err %v, want %v", tt.in, step, err, tt.want.err)
				}
				continue
			}
			got := want{err: err, status: r.Status(), reason: string(r.Reason()), framing: r.Framing(), keepAlive: r.KeepAlive()}
			if got != tt.want {
				t.Errorf("%q step %d:\n got %+v\nwant %+v", tt.in, step, got, tt.want)
			}
		}
	}
}

func TestResponseAccessors(t *testing.T) {
	var r Response
	in := []byte("HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n")
	if _, err := r.Parse(in); err != nil {
		t.Fatal(err)
	}
	if !r.Interim() || r.NumFields() != 1 || string(r.Proto()) != "HTTP/1.1" || r.ProtoMinor() != 1 ||
		r.HeadLen() != len(in) || r.ContentLength() != -1 || r.Chunked() || r.Upgrade() {
		t.Fatal("accessors")
	}
	if n, v := r.Field(0); string(n) != "Link" || string(v) != "</a>; rel=preload" {
		t.Fatalf("%q %q", n, v)
	}
	if v, ok := r.Get("link"); !ok || len(v) == 0 {
		t.Fatal("Get")
	}
}
