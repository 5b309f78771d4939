// Package codec owns the HTTP/1.1 wire format for the proxy: a strict,
// resumable parser for request and response heads that returns views into
// the caller's buffer, body framing (Content-Length, chunked, until close,
// tunnels), and a head writer that emits iovecs from the original bytes plus
// edits. It imports only the standard library.
//
// The parser is a function on bytes: Request.Parse(buf) returns the head's
// length, or ErrNeedMore to be called again with more bytes appended; it
// picks up where it stopped instead of rescanning. Nothing is copied and,
// once a Request has been used, nothing is allocated. The views it returns
// (Method, Path, Host, Field…) are valid until the buffer is reused.
//
// It is strict by default (RFC 9112 and RFC 9110), because a proxy that reads
// a message differently from the server behind it is how requests get
// smuggled: every ambiguity in framing (Content-Length with
// Transfer-Encoding, duplicate lengths, codings other than a final chunked,
// bare CR or LF, obs-fold, whitespace before a colon) is an error that
// carries the status to answer with, and the connection is then closed.
// Response errors always mean 502. See docs/codec.md for the limits, the
// strictness choices and how the parser differs from net/http.
//
// The L7 proxy uses it per connection like this:
//
//	req.Reset()
//	n, err := req.Parse(readBuf)          // ErrNeedMore: read more, call again
//	route.Match(req.Method(), req.Path(), req.Host())
//	iov := writer.Request(&req, &edits)   // writev(upstream, iov)
//	body.Reset(req.Framing(), limits)
//	k, _, err := body.Next(readBuf[n:])   // forward readBuf[n:n+k] verbatim
package codec
