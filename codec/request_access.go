package codec

// BodyKind says how a message's body is delimited (RFC 9112 §6.3).
type BodyKind uint8

// Body kinds.
const (
	// BodyNone: no body; the next message (if any) starts right after the head.
	BodyNone BodyKind = iota
	// BodyLength: exactly Framing.Length bytes.
	BodyLength
	// BodyChunked: chunked transfer coding, ended by the last chunk and trailers.
	BodyChunked
	// BodyUntilClose: a response body that ends when the connection does.
	BodyUntilClose
	// BodyTunnel: after the head the connection carries another protocol
	// (a 2xx answer to CONNECT, or 101 Switching Protocols).
	BodyTunnel
)

// Framing is a message's body delimitation: what a Body needs to know.
type Framing struct {
	Kind   BodyKind
	Length int64 // for BodyLength
}

// Method returns the request method. View: valid until the buffer is reused.
func (r *Request) Method() []byte { return r.method.of(r.buf) }

// MethodID classifies the method without a string comparison.
func (r *Request) MethodID() Method { return r.methodID }

// Target returns the request-target as received. View: valid until the buffer is reused.
func (r *Request) Target() []byte { return r.target.of(r.buf) }

// Path returns the target's path: the part of an origin-form or
// absolute-form target before '?'. It is empty for "*", for authority-form,
// and for an absolute-form target with no path (which means "/").
// View: valid until the buffer is reused.
func (r *Request) Path() []byte { return r.path.of(r.buf) }

// Query returns the part of the target after the first '?', without it.
// View: valid until the buffer is reused.
func (r *Request) Query() []byte { return r.query.of(r.buf) }

// Host returns the host the request is for: the authority of an
// absolute-form or authority-form target, which RFC 9112 §3.2.2 says wins
// over the Host field, else the Host field's value (possibly empty, or nil
// for an HTTP/1.0 request without one). View: valid until the buffer is reused.
func (r *Request) Host() []byte {
	if r.authority.end != 0 {
		return r.authority.of(r.buf)
	}
	if r.hostIdx >= 0 {
		return r.fields[r.hostIdx].value.of(r.buf)
	}
	return nil
}

// Proto returns the version as received, e.g. "HTTP/1.1". View: valid until
// the buffer is reused.
func (r *Request) Proto() []byte { return r.version.of(r.buf) }

// ProtoMinor is the minor version: 0 or 1 (higher 1.x minors are kept as sent).
func (r *Request) ProtoMinor() int { return int(r.minor) }

// HeadLen is the length of the parsed head, as the last successful Parse returned.
func (r *Request) HeadLen() int { return r.end }

// NumFields is the number of field lines.
func (r *Request) NumFields() int { return len(r.fields) }

// Field returns field line i's name as sent and its value with surrounding
// whitespace removed. Views: valid until the buffer is reused.
func (r *Request) Field(i int) (name, value []byte) {
	f := r.fields[i]
	return f.name.of(r.buf), f.value.of(r.buf)
}

// Get returns the value of the first field named name (case-insensitive)
// and whether there was one. View: valid until the buffer is reused.
func (r *Request) Get(name string) ([]byte, bool) { return r.get(name) }

func (h *head) get(name string) ([]byte, bool) {
	for _, f := range h.fields {
		if equalFold(f.name.of(h.buf), name) {
			return f.value.of(h.buf), true
		}
	}
	return nil, false
}

// ContentLength is the Content-Length value, or -1 when there is none.
func (r *Request) ContentLength() int64 { return r.contentLen }

// Chunked reports a chunked body.
func (r *Request) Chunked() bool { return r.flags&flagChunked != 0 }

// KeepAlive reports whether the connection may carry another request after
// this one: HTTP/1.1 unless "Connection: close", HTTP/1.0 only with
// "Connection: keep-alive" (RFC 9112 §9.3).
func (r *Request) KeepAlive() bool { return keepAlive(r.flags, r.minor) }

func keepAlive(f uint32, minor uint8) bool {
	if f&flagClose != 0 {
		return false
	}
	return minor >= 1 || f&flagKeepAlive != 0
}

// Upgrade reports a request to switch protocols that a proxy may tunnel:
// "Connection: upgrade" plus an Upgrade field, and not h2c (a proxy cannot
// speak cleartext HTTP/2 on the client's behalf, so h2c is always dropped).
func (r *Request) Upgrade() bool {
	return r.flags&(flagConnUpgrade|flagUpgrade) == flagConnUpgrade|flagUpgrade && r.flags&flagH2C == 0
}

// UpgradeProtocols returns the first Upgrade field's value, nil if none.
// View: valid until the buffer is reused.
func (r *Request) UpgradeProtocols() []byte {
	if r.upgradeIdx < 0 {
		return nil
	}
	return r.fields[r.upgradeIdx].value.of(r.buf)
}

// Expect100 reports "Expect: 100-continue": the client waits for a 100
// before sending the body.
func (r *Request) Expect100() bool { return r.flags&flagExpect100 != 0 }

// AbsoluteForm reports an absolute-form target ("http://host/path").
func (r *Request) AbsoluteForm() bool { return r.flags&flagAbsoluteForm != 0 }

// Framing says how the body is delimited: chunked, Content-Length, or none
// (a request without either has no body, RFC 9112 §6.3). A CONNECT request's
// body is a tunnel only once the upstream answers 2xx; see Response.
func (r *Request) Framing() Framing {
	switch {
	case r.flags&flagChunked != 0:
		return Framing{Kind: BodyChunked}
	case r.contentLen > 0:
		return Framing{Kind: BodyLength, Length: r.contentLen}
	}
	return Framing{Kind: BodyNone}
}
