package codec

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// parseRequestSplit parses in using fresh buffers that grow by step bytes at
// a time (each call gets a new copy, as after a buffer reallocation), to
// prove resumption does not depend on buffer identity.
func parseRequestSplit(r *Request, in []byte, step int) (int, error) {
	r.Reset()
	for end := step; ; end += step {
		if end > len(in) {
			end = len(in)
		}
		buf := append([]byte(nil), in[:end]...)
		n, err := r.Parse(buf)
		if err != ErrNeedMore || end == len(in) {
			return n, err
		}
	}
}

type reqWant struct {
	err                         error
	method, target, path, query string
	host                        string
	fields                      string // "name=value|name=value"
	framing                     Framing
	keepAlive, upgrade, expect  bool
}

func describeRequest(r *Request) string {
	var b strings.Builder
	for i := 0; i < r.NumFields(); i++ {
		n, v := r.Field(i)
		if i > 0 {
			b.WriteByte('|')
		}
		fmt.Fprintf(&b, "%s=%s", n, v)
	}
	return b.String()
}

// checkRequest parses in whole and byte by byte and compares with w.
func checkRequest(t *testing.T, in string, w reqWant) {
	t.Helper()
	for _, step := range []int{len(in) + 1, 1, 7} {
		var r Request
		n, err := parseRequestSplit(&r, []byte(in), step)
		if w.err != nil {
			if !errors.Is(err, w.err) {
				t.Errorf("%q step %d: err %v, want %v", in, step, err, w.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q step %d: %v", in, step, err)
			continue
		}
		if n != strings.Index(in, "\r\n\r\n")+4 {
			t.Errorf("%q step %d: n=%d", in, step, n)
		}
		got := reqWant{
			method: string(r.Method()), target: string(r.Target()),
			path: string(r.Path()), query: string(r.Query()), host: string(r.Host()),
			fields: describeRequest(&r), framing: r.Framing(),
			keepAlive: r.KeepAlive(), upgrade: r.Upgrade(), expect: r.Expect100(),
		}
		if w.fields == "" {
			got.fields = ""
		}
		if got != w {
			t.Errorf("%q step %d:\n got %+v\nwant %+v", in, step, got, w)
		}
	}
}

func TestRequestParse(t *testing.T) {
	ok := func(method, target, path, query, host string) reqWant {
		return reqWant{method: method, target: target, path: path, query: query, host: host, keepAlive: true}
	}
	tests := []struct {
		in   string
		want reqWant
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", ok("GET", "/", "/", "", "a")},
		{"GET /p/q?x=1&y=2 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", ok("GET", "/p/q?x=1&y=2", "/p/q", "x=1&y=2", "example.com:8080")},
		{"\r\nGET /a?b?c HTTP/1.1\r\nHost: a\r\n\r\n", ok("GET", "/a?b?c", "/a", "b?c", "a")},
		{"GET http://Example.com:81/x?y HTTP/1.1\r\nHost: other\r\n\r\n", ok("GET", "http://Example.com:81/x?y", "/x", "y", "Example.com:81")},
		{"GET https://h?q HTTP/1.1\r\nHost: h\r\n\r\n", ok("GET", "https://h?q", "", "q", "h")},
		{"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", ok("OPTIONS", "*", "", "", "h")},
		{"CONNECT h.example:443 HTTP/1.1\r\nHost: h.example:443\r\n\r\n", ok("CONNECT", "h.example:443", "", "", "h.example:443")},
		{"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", ok("GET", "/", "/", "", "[::1]:80")},
		{"GET / HTTP/1.1\r\nHost:\r\n\r\n", ok("GET", "/", "/", "", "")},
		{"GET / HTTP/1.0\r\n\r\n", reqWant{method: "GET", target: "/", path: "/"}},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", reqWant{method: "GET", target: "/", path: "/", keepAlive: true}},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: x, Close\r\n\r\n", reqWant{method: "GET", target: "/", path: "/", host: "a"}},
		{"PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n", ok("PURGE", "/x", "/x", "", "a")},
		{"GET / HTTP/1.1\r\nHost: a\r\nX:  v v \t\r\nY:\r\nZ: \xff\x80\r\n\r\n", reqWant{method: "GET", target: "/", path: "/", host: "a", keepAlive: true, fields: "Host=a|X=v v|Y=|Z=\xff\x80"}},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n", reqWant{method: "POST", target: "/", path: "/", host: "a", keepAlive: true, framing: Framing{BodyLength, 7}}},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", ok("POST", "/", "/", "", "a")},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nExpect: 100-Continue\r\n\r\n", reqWant{method: "POST", target: "/", path: "/", host: "a", keepAlive: true, expect: true, framing: Framing{Kind: BodyChunked}}},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n", reqWant{err: ErrBadTransferEncoding}},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", reqWant{err: ErrBadTransferEncoding}},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip,,chunked\r\n\r\n", reqWant{err: ErrBadTransferEncoding}},
		{"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", reqWant{method: "GET", target: "/ws", path: "/ws", host: "a", keepAlive: true, upgrade: true}},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", ok("GET", "/", "/", "", "a")},

		// Request line.
		{"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBadTarget}},
		{"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", reqWant{err: ErrBadRequestLine}},
		{"GET /\r\n\r\n", reqWant{err: ErrBadRequestLine}},
		{"GET\t/ HTTP/1.1\r\n\r\n", reqWant{err: ErrBadRequestLine}},
		{"G@T / HTTP/1.1\r\n\r\n", reqWant{err: ErrBadMethod}},
		{" GET / HTTP/1.1\r\n\r\n", reqWant{err: ErrBadMethod}},
		{"MKCOLA / HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrUnknownMethod}},
		{"get / HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrUnknownMethod}},
		{"GET / HTTP/2.0\r\n\r\n", reqWant{err: ErrVersionNotSupported}},
		{"GET / HTTP/1.10\r\n\r\n", reqWant{err: ErrBadRequestLine}},
		{"GET / http/1.1\r\n\r\n", reqWant{err: ErrBadVersion}},
		{"GET / HTTP/1.x\r\n\r\n", reqWant{err: ErrBadVersion}},
		{"GET / ICE/1.0\r\n\r\n", reqWant{err: ErrBadVersion}},
		{"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBadTarget}},
		{"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBadTarget}},
		{"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBadTarget}},
		{"GET * HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBadTarget}},
		{"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBadTarget}},
		{"GET /a%2 HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBadTarget}},
		{"GET /a%2f%C3%A9 HTTP/1.1\r\nHost: a\r\n\r\n", ok("GET", "/a%2f%C3%A9", "/a%2f%C3%A9", "", "a")},
		{"GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", reqWant{err: ErrBadHost}},
		{"GET h:80 HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBadTarget}},
		{"CONNECT h HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBadTarget}},
		{"CONNECT /rpc HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBadTarget}},
		{"CONNECT http://h:1/ HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBadTarget}},
		{"CONNECT h:443 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", reqWant{err: ErrConnectBody}},
		{"GET ftp://h/ HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBadTarget}},
		{"GET http://u@h/ HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBadTarget}},
		{"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBadTarget}},
		{"GET / HTTP/1.1\rHost: a\r\n\r\n", reqWant{err: ErrBareCR}},
		{"GET / HTTP/1.1\nHost: a\r\n\r\n", reqWant{err: ErrBareLF}},
		{"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBareLF}},
		{"\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{err: ErrBadRequestLine}},

		// Fields.
		{"GET / HTTP/1.1\r\nHost: a\r\nX: 1\nY: 2\r\n\r\n", reqWant{err: ErrBareLF}},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: 1\rY: 2\r\n\r\n", reqWant{err: ErrBareCR}},
		{"GET / HTTP/1.1\r\nHost: a\r\n\n", reqWant{err: ErrBareLF}},
		{"GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n\r\n", reqWant{err: ErrBareCR}},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", reqWant{err: ErrObsFold}},
		{"GET / HTTP/1.1\r\n Host: a\r\n\r\n", reqWant{err: ErrObsFold}},
		{"GET / HTTP/1.1\r\nHost : a\r\n\r\n", reqWant{err: ErrSpaceBeforeColon}},
		{"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", reqWant{err: ErrSpaceBeforeColon}},
		{"GET / HTTP/1.1\r\n: a\r\n\r\n", reqWant{err: ErrBadFieldName}},
		{"GET / HTTP/1.1\r\nA(b): a\r\n\r\n", reqWant{err: ErrBadFieldName}},
		{"GET / HTTP/1.1\r\nNoColon\r\n\r\n", reqWant{err: ErrBadFieldName}},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", reqWant{err: ErrBadFieldValue}},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: abcdefghij\x01klmnop\r\n\r\n", reqWant{err: ErrBadFieldValue}},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: abcdefgh\x7f\r\n\r\n", reqWant{err: ErrBadFieldValue}},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: \x0c\r\n\r\n", reqWant{err: ErrBadFieldValue}},

		// Host.
		{"GET / HTTP/1.1\r\n\r\n", reqWant{err: ErrMissingHost}},
		{"GET http://h/ HTTP/1.1\r\n\r\n", reqWant{err: ErrMissingHost}},
		{"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", reqWant{err: ErrDuplicateHost}},
		{"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", reqWant{err: ErrDuplicateHost}},
		{"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", reqWant{err: ErrBadHost}},
		{"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", reqWant{err: ErrBadHost}},
		{"GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", reqWant{err: ErrBadHost}},
		{"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", reqWant{err: ErrBadHost}},
		{"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", reqWant{err: ErrBadHost}},

		// Framing.
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", reqWant{err: ErrDuplicateContentLength}},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n", reqWant{err: ErrBadContentLength}},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", reqWant{err: ErrBadContentLength}},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", reqWant{err: ErrBadContentLength}},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", reqWant{err: ErrBadContentLength}},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", reqWant{err: ErrBadContentLength}},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n", reqWant{method: "POST", target: "/", path: "/", host: "a", keepAlive: true, framing: Framing{BodyLength, 1<<63 - 1}}},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", reqWant{err: ErrLengthAndChunked}},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", reqWant{err: ErrLengthAndChunked}},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", reqWant{err: ErrUnsupportedTransferEncoding}},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", reqWant{err: ErrUnsupportedTransferEncoding}},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", reqWant{err: ErrBadTransferEncoding}},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", reqWant{err: ErrBadTransferEncoding}},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", reqWant{err: ErrBadTransferEncoding}},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\nTransfer-Encoding: chunked\r\n\r\n", reqWant{err: ErrBadTransferEncoding}},
		{"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", reqWant{err: ErrBadTransferEncoding}},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", reqWant{err: ErrUnsupportedTransferEncoding}},
	}
	for _, tt := range tests {
		checkRequest(t, tt.in, tt.want)
	}
}

func TestRequestLimits(t *testing.T) {
	line := func(n int) string { return "GET /" + strings.Repeat("a", n-len("GET / HTTP/1.1")) + " HTTP/1.1" }
	fieldsOf := func(n, size int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "X-%d: %s\r\n", i, strings.Repeat("v", size))
		}
		return b.String()
	}
	tests := []struct {
		in  string
		err error
	}{
		{line(DefaultMaxRequestLine) + "\r\nHost: a\r\n\r\n", nil},
		{line(DefaultMaxRequestLine+1) + "\r\nHost: a\r\n\r\n", ErrRequestLineTooLong},
		{line(DefaultMaxRequestLine + 2), ErrRequestLineTooLong}, // no LF yet: still refused
		{"GET / HTTP/1.1\r\nHost: a\r\n" + fieldsOf(DefaultMaxFields-1, 1) + "\r\n", nil},
		{"GET / HTTP/1.1\r\nHost: a\r\n" + fieldsOf(DefaultMaxFields, 1) + "\r\n", ErrTooManyFields},
		{"GET / HTTP/1.1\r\nHost: a\r\n" + fieldsOf(2, 40000), ErrHeaderTooLarge},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", DefaultMaxHeaderBytes-len("Host: a\r\nX: \r\n\r\n")) + "\r\n\r\n", nil},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", DefaultMaxHeaderBytes-len("Host: a\r\nX: \r\n\r\n")+1) + "\r\n\r\n", ErrHeaderTooLarge},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", DefaultMaxHeaderBytes), ErrHeaderTooLarge},
	}
	for i, tt := range tests {
		var r Request
		_, err := r.Parse([]byte(tt.in))
		if err != tt.err {
			t.Errorf("%d: err %v, want %v", i, err, tt.err)
		}
		if tt.err != nil && StatusOf(err) != tt.err.(*Error).Status() {
			t.Errorf("%d: status %d", i, StatusOf(err))
		}
	}
	var r Request
	r.Limits = Limits{MaxFields: 2, MaxRequestLine: 20, MaxBodySize: 10}
	if _, err := r.Parse([]byte("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n")); err != ErrTooManyFields {
		t.Errorf("MaxFields 2: %v", err)
	}
	r.Reset()
	if _, err := r.Parse([]byte("GET /1234567 HTTP/1.1\r\n")); err != ErrRequestLineTooLong {
		t.Errorf("MaxRequestLine 20: %v", err)
	}
	r.Reset()
	if _, err := r.Parse([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n")); err != ErrBodyTooLarge || StatusOf(err) != 413 {
		t.Errorf("MaxBodySize 10: %v", err)
	}
	r.Reset()
	r.Limits.ExtensionMethods = true
	r.Reset()
	if _, err := r.Parse([]byte("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n")); err != nil || r.MethodID() != MethodOther {
		t.Errorf("ExtensionMethods: %v", err)
	}
}

func TestRequestStatuses(t *testing.T) {
	for _, tt := range []struct {
		err    error
		status int
	}{
		{ErrRequestLineTooLong, 414}, {ErrHeaderTooLarge, 431}, {ErrTooManyFields, 431},
		{ErrUnknownMethod, 501}, {ErrUnsupportedTransferEncoding, 501}, {ErrBodyTooLarge, 413},
		{ErrVersionNotSupported, 505}, {ErrMissingHost, 400}, {ErrLengthAndChunked, 400},
		{ErrBadStatusLine, 502}, {errors.New("other"), 400}, {fmt.Errorf("wrapped: %w", ErrTooManyFields), 431},
	} {
		if got := StatusOf(tt.err); got != tt.status {
			t.Errorf("StatusOf(%v) = %d, want %d", tt.err, got, tt.status)
		}
	}
}

// TestRequestResume checks that a resumed parse does not rescan: the LF
// search restarts where it stopped, even on a buffer with no LF yet.
func TestRequestResume(t *testing.T) {
	var r Request
	in := []byte("GET /x HTTP/1.1\r\nHost: a\r\nX-Long: " + strings.Repeat("y", 1000))
	if _, err := r.Parse(in); err != ErrNeedMore {
		t.Fatal(err)
	}
	if r.scan != len(in) {
		t.Fatalf("scan=%d, want %d", r.scan, len(in))
	}
	in = append(in, "\r\n\r\nGET"...)
	n, err := r.Parse(in)
	if err != nil || n != len(in)-3 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if v, _ := r.Get("x-long"); len(v) != 1000 {
		t.Fatalf("value len %d", len(v))
	}
	// Done is sticky and idempotent; errors are sticky until Reset.
	if n2, err := r.Parse(in); n2 != n || err != nil {
		t.Fatal(n2, err)
	}
	r.Reset()
	if _, err := r.Parse([]byte("GET / HTTP/1.1\r\nA : b\r\n")); err != ErrSpaceBeforeColon {
		t.Fatal(err)
	}
	if _, err := r.Parse([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")); err != ErrSpaceBeforeColon {
		t.Fatal("error not sticky:", err)
	}
}

func TestRequestPipelined(t *testing.T) {
	in := []byte("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc" +
		"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=\"y\"\r\ndef\r\n0\r\nT: 1\r\n\r\n" +
		"GET /c HTTP/1.1\r\nHost: h\r\n\r\n")
	var r Request
	var b Body
	var paths, bodies []string
	for len(in) > 0 {
		r.Reset()
		n, err := r.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, string(r.Path()))
		in = in[n:]
		b.Reset(r.Framing(), r.Limits)
		var body []byte
		for !b.Done() {
			k, data, err := b.Next(in)
			if err != nil {
				t.Fatal(err)
			}
			body = append(body, data...)
			in = in[k:]
		}
		bodies = append(bodies, string(body))
	}
	if got := fmt.Sprint(paths, bodies); got != "[/a /b /c] [abc def ]" {
		t.Fatal(got)
	}
}

func TestRequestAccessors(t *testing.T) {
	var r Request
	in := []byte("GET /p HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\nX-A: 1\r\nx-a: 2\r\n\r\n")
	if _, err := r.Parse(in); err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Get("X-a"); !ok || string(v) != "1" {
		t.Errorf("Get: %q %v", v, ok)
	}
	if _, ok := r.Get("missing"); ok {
		t.Error("Get missing")
	}
	if string(r.Proto()) != "HTTP/1.1" || r.ProtoMinor() != 1 || r.MethodID() != MethodGet || r.AbsoluteForm() ||
		r.HeadLen() != len(in) || r.ContentLength() != -1 || r.Chunked() || !r.Upgrade() ||
		string(r.UpgradeProtocols()) != "websocket" {
		t.Errorf("accessors wrong")
	}
	r.Reset()
	if r.Host() != nil || r.UpgradeProtocols() != nil || r.NumFields() != 0 {
		t.Error("Reset left state")
	}
}

func TestRequestShrunkBufferPanics(t *testing.T) {
	var r Request
	if _, err := r.Parse([]byte("GET / HTTP/1.1\r\nHost: a\r\n")); err != ErrNeedMore {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	r.Parse([]byte("GET /"))
}

// TestLimitVersusBadByte: when a line both breaks a limit and has a bad
// byte, the one that comes first decides, whether the input is split or not.
func TestLimitVersusBadByte(t *testing.T) {
	long := strings.Repeat("a", DefaultMaxRequestLine)
	fill := strings.Repeat("v", DefaultMaxHeaderBytes)
	tests := []struct {
		in  string
		err error
	}{
		{"GET /" + long + "\x01 HTTP/1.1\r\n", ErrRequestLineTooLong}, // the bad byte is past the limit
		{"GET /\x01" + long + " HTTP/1.1\r\n", ErrBadTarget},          // the bad byte comes first
		{"GET /" + long + "\n", ErrRequestLineTooLong},                // too long, then a bare LF
		{"GET / HTTP/1.1\r\nHost: a\r\nX: " + fill + "\n", ErrHeaderTooLarge},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: \x01" + fill + "\r\n", ErrBadFieldValue},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: " + fill[:DefaultMaxHeaderBytes-len("Host: a\r\nX: \r\n")] + "\r\n\r\n", ErrHeaderTooLarge},
	}
	for i, tt := range tests {
		for _, step := range []int{len(tt.in), 97, 4093} {
			var r Request
			if _, err := parseRequestSplit(&r, []byte(tt.in), step); err != tt.err {
				t.Errorf("%d step %d: %v, want %v", i, step, err, tt.err)
			}
		}
	}
}
