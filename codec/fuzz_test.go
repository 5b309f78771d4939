package codec

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strings"
	"testing"
)

// The differential fuzz targets hold the codec against net/http: same
// accept/reject and, where both accept, the same method, target, fields and
// body. Every way we knowingly differ is one of the named cases below; any
// other difference fails. Seeds: the table tests' shapes, the llhttp corpus
// when present, and crashers under testdata/fuzz/.

var fuzzSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /p?q HTTP/1.1\r\nHost: a\r\nX: 1\r\nX: 2\r\nConnection: close, x\r\nx: y\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nT: v\r\n\r\n",
	"GET http://h:80/x HTTP/1.1\r\nHost: h\r\n\r\n",
	"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
	"OPTIONS * HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
}

var fuzzResponseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 204 No Content\r\n\r\n",
	"HTTP/1.0 200 OK\r\n\r\nuntil close",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
	"HTTP/1.1 200\r\n\r\n",
}

func addCorpusSeeds(f *testing.F, kind string) {
	for _, c := range loadLLHTTPIfPresent() {
		if c.Kind == kind {
			if in, err := decodeB64(c.Input); err == nil {
				f.Add(in)
			}
		}
	}
}

func FuzzRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	addCorpusSeeds(f, "request")
	f.Fuzz(fuzzRequestOne)
}

func fuzzRequestOne(t *testing.T, data []byte) {
	{
		var r Request
		n, err := r.Parse(data)
		checkSplitRequest(t, data, n, err)
		hreq, herr := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		switch {
		case err == ErrNeedMore:
			// We fail a bad byte as soon as it arrives, so if net/http
			// found a complete head in the same bytes we should have too.
			if herr == nil {
				t.Fatalf("we need more, net/http accepts %q", data)
			}
			return
		case err != nil && herr != nil:
			return
		case err != nil:
			if why := whyWeRejectRequest(err, data, hreq); why == "" {
				t.Fatalf("we reject %q with %v, net/http accepts", data, err)
			}
			return
		case herr != nil:
			if why := whyNetHTTPRejectsRequest(&r, herr); why == "" {
				t.Fatalf("we accept %q, net/http: %v", data, herr)
			}
			return
		}
		compareRequest(t, data, &r, hreq)
		checkRewrite(t, &r)
		compareBody(t, data[n:], r.Framing(), hreq.Body, data)
	}
}

func FuzzResponse(f *testing.F) {
	for _, s := range fuzzResponseSeeds {
		f.Add([]byte(s), false)
	}
	addCorpusSeedsResponse(f)
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		var r Response
		r.Reset()
		method := "GET"
		if head {
			r.RequestMethod, method = MethodHead, "HEAD"
		}
		n, err := r.Parse(data)
		hreq := &http.Request{Method: method}
		hresp, herr := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), hreq)
		switch {
		case err == ErrNeedMore:
			if herr == nil {
				t.Fatalf("we need more, net/http accepts %q", data)
			}
			return
		case err != nil && herr != nil:
			return
		case err != nil:
			if why := whyWeRejectResponse(err, data); why == "" {
				t.Fatalf("we reject %q with %v, net/http accepts", data, err)
			}
			return
		case herr != nil:
			if why := whyNetHTTPRejectsResponse(&r, herr); why == "" {
				t.Fatalf("we accept %q, net/http: %v", data, herr)
			}
			return
		}
		if hresp.StatusCode != r.Status() || hresp.ProtoMinor != r.ProtoMinor() {
			t.Fatalf("%q: status %d/%d vs %d/%d", data, r.Status(), r.ProtoMinor(), hresp.StatusCode, hresp.ProtoMinor)
		}
		compareFields(t, data, &r.head, hresp.Header, false)
		f := r.Framing()
		if f.Kind == BodyTunnel {
			return // net/http reads a 101's body as until-close; a proxy tunnels
		}
		compareBody(t, data[n:], f, hresp.Body, data)
	})
}

// checkSplitRequest: parsing a byte at a time must end exactly as parsing
// whole does — the resumable parser's central promise.
func checkSplitRequest(t *testing.T, data []byte, n int, err error) {
	var r Request
	for i := 0; i <= len(data); i++ {
		n2, err2 := r.Parse(data[:i])
		if err2 == ErrNeedMore && i < len(data) {
			continue
		}
		if n2 != n || err2 != err {
			t.Fatalf("%q: whole (%d, %v), split stopped at %d with (%d, %v)", data, n, err, i, n2, err2)
		}
		return
	}
}

// whyWeRejectRequest names the intentional difference behind a request we
// refuse and net/http accepts, or returns "".
func whyWeRejectRequest(err error, data []byte, h *http.Request) string {
	switch err {
	case ErrMissingHost:
		return "net/http checks Host in its server, not in ReadRequest"
	case ErrUnknownMethod:
		return "unregistered methods get 501 (RFC 9110 §9.1); net/http takes any token"
	case ErrBadTarget:
		return "targets: no '#', no userinfo, no non-ASCII, only http(s) absolute-form, '*' only for OPTIONS, authority-form only for CONNECT"
	case ErrVersionNotSupported, ErrBadVersion:
		return "only HTTP/1.x is parsed; net/http also accepts other majors here"
	case ErrBareLF, ErrBareCR:
		return "bare LF/CR line endings refused (RFC 9112 §2.2); net/http accepts LF alone"
	case ErrObsFold:
		return "obs-fold refused (RFC 9112 §5.2); net/http unfolds"
	case ErrDuplicateContentLength:
		return "repeated Content-Length refused even when equal; net/http accepts equal values"
	case ErrLengthAndChunked:
		return "Content-Length with Transfer-Encoding refused; net/http drops Content-Length"
	case ErrBadTransferEncoding:
		return "HTTP/1.0 with Transfer-Encoding refused (RFC 9112 §6.1); net/http ignores it"
	case ErrConnectBody:
		return "CONNECT with framing fields refused (RFC 9110 §9.3.6)"
	case ErrBadHost, ErrDuplicateHost:
		return "Host validated at parse; net/http validates in its server"
	case ErrRequestLineTooLong, ErrHeaderTooLarge, ErrTooManyFields:
		return "limits; ReadRequest has none"
	case ErrBadRequestLine:
		return "one SP between request-line parts and at most 4 leading blank lines"
	case ErrSpaceBeforeColon, ErrBadFieldName:
		return "field-name rules (RFC 9112 §5.1)"
	}
	return ""
}

// whyNetHTTPRejectsRequest names why net/http refuses a request we accept.
func whyNetHTTPRejectsRequest(r *Request, herr error) string {
	msg := herr.Error()
	switch {
	case r.blankLines > 0 && strings.Contains(msg, "malformed HTTP request"):
		return "we skip blank lines before the request line (RFC 9112 §2.2); net/http does not"
	}
	return ""
}

func whyWeRejectResponse(err error, data []byte) string {
	switch err {
	case ErrBadStatusLine:
		return "status code outside 100..599, or bytes net/http ignores in the status line"
	case ErrBadTransferEncoding, ErrUnsupportedTransferEncoding:
		return "a response whose Transfer-Encoding is not just chunked is refused (502), not read until close"
	case ErrVersionNotSupported, ErrBadVersion, ErrBareLF, ErrBareCR, ErrObsFold,
		ErrDuplicateContentLength, ErrLengthAndChunked, ErrHeaderTooLarge, ErrTooManyFields,
		ErrSpaceBeforeColon, ErrBadFieldName:
		return "same rules as requests"
	}
	return ""
}

func whyNetHTTPRejectsResponse(r *Response, herr error) string {
	if r.blankLines > 0 {
		return "we skip blank lines before the status line; net/http does not"
	}
	return ""
}

// compareRequest checks the request line and fields against net/http's.
func compareRequest(t *testing.T, data []byte, r *Request, h *http.Request) {
	t.Helper()
	if string(r.Method()) != h.Method || string(r.Target()) != h.RequestURI || string(r.Proto()) != h.Proto {
		t.Fatalf("%q: line %q %q %q vs %q %q %q", data, r.Method(), r.Target(), r.Proto(), h.Method, h.RequestURI, h.Proto)
	}
	if string(r.Host()) != h.Host && !(r.MethodID() == MethodConnect || r.AbsoluteForm()) {
		t.Fatalf("%q: host %q vs %q", data, r.Host(), h.Host)
	}
	compareFields(t, data, &r.head, h.Header, true)
}

// compareFields checks our field list against net/http's map. net/http
// removes Host from requests' Header; it keeps values in order per name.
func compareFields(t *testing.T, data []byte, h *head, hdr http.Header, request bool) {
	t.Helper()
	seen := 0
	perName := map[string]int{}
	for _, f := range h.fields {
		name := textproto.CanonicalMIMEHeaderKey(string(f.name.of(h.buf)))
		if request && name == "Host" || netHTTPMoves(name, hdr) {
			continue
		}
		vals := hdr[name]
		i := perName[name]
		perName[name]++
		if i >= len(vals) || vals[i] != string(f.value.of(h.buf)) {
			t.Fatalf("%q: field %s[%d] = %q, net/http %q", data, name, i, f.value.of(h.buf), vals)
		}
		seen++
	}
	total := 0
	for name, v := range hdr {
		if request && name == "Host" || netHTTPMoves(name, hdr) {
			continue
		}
		if name == "Cache-Control" && perName[name] == 0 && len(hdr["Pragma"]) > 0 {
			continue // net/http adds it to requests with Pragma: no-cache
		}
		total += len(v)
	}
	if total != seen {
		t.Fatalf("%q: %d fields, net/http %d: %v", data, seen, total, hdr)
	}
}

// netHTTPMoves reports fields net/http takes out of Header: it moves
// Transfer-Encoding into its own field (checked through the body framing),
// and drops a response's Connection when it says close.
func netHTTPMoves(name string, hdr http.Header) bool {
	return name == "Transfer-Encoding" || name == "Connection" && len(hdr["Connection"]) == 0
}

// compareBody reads the body both ways; where both complete, the payloads match.
func compareBody(t *testing.T, rest []byte, f Framing, hbody io.ReadCloser, data []byte) {
	t.Helper()
	var b Body
	b.Reset(f, netHTTPChunkLimits)
	var ours []byte
	var oerr error
	p := rest
	for !b.Done() && len(p) > 0 {
		n, d, err := b.Next(p)
		ours = append(ours, d...)
		p = p[n:]
		if err != nil {
			oerr = err
			break
		}
	}
	complete := b.Done() || f.Kind == BodyUntilClose
	theirs, herr := io.ReadAll(hbody)
	switch {
	case oerr != nil && oerr != ErrNeedMore:
		if herr == nil {
			// net/http's chunked reader is laxer about chunk lines and
			// trailers: BWS, bare LF, extensions and trailer fields go unchecked.
			if f.Kind != BodyChunked {
				t.Fatalf("%q: body: we fail %v, net/http reads %q", data, oerr, theirs)
			}
		}
	case complete && herr != nil:
		if !netHTTPChunkHeuristic(herr) {
			t.Fatalf("%q: body complete for us (%q), net/http: %v", data, ours, herr)
		}
	case complete && !bytes.Equal(ours, theirs):
		t.Fatalf("%q: body %q vs net/http %q", data, ours, theirs)
	case !complete && herr == nil && f.Kind != BodyUntilClose:
		t.Fatalf("%q: body incomplete for us, net/http read %q", data, theirs)
	}
}

// checkRewrite: what the writer emits, unedited, parses back to the same
// message minus its hop-by-hop fields.
func checkRewrite(t *testing.T, r *Request) {
	t.Helper()
	var w HeadWriter
	out := bytes.Join(w.Request(r, nil), nil)
	var r2 Request
	n, err := r2.Parse(out)
	if err != nil || n != len(out) {
		t.Fatalf("rewrite of %q: %q does not parse: %d %v", r.buf[:r.end], out, n, err)
	}
	if !bytes.Equal(r2.Method(), r.Method()) || string(r2.Host()) != string(r.Host()) ||
		r2.Framing() != r.Framing() || !bytes.Equal(r2.Query(), r.Query()) {
		t.Fatalf("rewrite of %q changed the request: %q", r.buf[:r.end], out)
	}
	if r2.flags&flagHopByHop != 0 {
		t.Fatalf("rewrite of %q kept hop-by-hop fields: %q", r.buf[:r.end], out)
	}
	// With edits: the new Host, target and field land, framing does not move.
	var e Edits
	e.SetHost([]byte("edited.example:1"))
	e.Set([]byte("X-Edit"), []byte("1"))
	if r.MethodID() != MethodConnect {
		e.SetTarget([]byte("/edited?x"))
	}
	out = bytes.Join(w.Request(r, &e), nil)
	var r3 Request
	if n, err := r3.Parse(out); err != nil || n != len(out) {
		t.Fatalf("edited rewrite of %q: %q does not parse: %d %v", r.buf[:r.end], out, n, err)
	}
	v, _ := r3.Get("x-edit")
	if string(r3.Host()) != "edited.example:1" && r.MethodID() != MethodConnect || string(v) != "1" ||
		r3.Framing() != r.Framing() || r.MethodID() != MethodConnect && string(r3.Path()) != "/edited" {
		t.Fatalf("edited rewrite of %q: %q", r.buf[:r.end], out)
	}
}

func addCorpusSeedsResponse(f *testing.F) {
	for _, c := range loadLLHTTPIfPresent() {
		if c.Kind == "response" {
			if in, err := decodeB64(c.Input); err == nil {
				f.Add(in, false)
			}
		}
	}
}

// FuzzChunked holds the chunked decoder to itself and to net/http: fed
// whole, a byte at a time or three at a time it must end the same way, and
// whatever it decodes net/http's chunked reader must decode identically.
func FuzzChunked(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"1;a=\"b\\\"c\"\r\nx\r\n0\r\nT: v\r\n\r\n",
		"A\r\n0123456789\r\n000\r\n\r\n",
		"5 \r\nhello\r\n0\r\n\r\n",
		"5\r\nhello\r\r\n",
		"ffffffffffffffff\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := string(data)
		payload, used, err := decodeAll(in, len(in)+1, netHTTPChunkLimits)
		for _, step := range []int{1, 3} {
			p2, u2, e2 := decodeAll(in, step, netHTTPChunkLimits)
			if p2 != payload || u2 != used || e2 != err {
				t.Fatalf("%q: whole (%q, %d, %v), step %d (%q, %d, %v)", in, payload, used, err, step, p2, u2, e2)
			}
		}
		if err != nil {
			return
		}
		theirs, herr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(data[:used])))
		if netHTTPChunkHeuristic(herr) {
			return
		}
		if herr != nil || string(theirs) != payload {
			t.Fatalf("%q: we decode %q, net/http %q, %v", in, payload, theirs, herr)
		}
	})
}

// netHTTPChunkLimits compares chunked decoding with net/http's line cap:
// its chunk lines may hold 4095 bytes, ours MaxChunkLine (4096 by default).
var netHTTPChunkLimits = Limits{MaxChunkLine: 4095}

// netHTTPChunkHeuristic reports net/http's refusal of bodies with more than
// 16 KiB of framing overhead (tiny chunks, long extensions). Intentional: it
// guards a reader that buffers; ours streams and MaxChunkLine bounds a line.
func netHTTPChunkHeuristic(err error) bool {
	return err != nil && strings.Contains(err.Error(), "too much non-data")
}
