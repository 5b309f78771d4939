package codec

// Body tracks one message body as it streams through: how many bytes of each
// buffer belong to it, what payload they carry, and when it is complete, so
// that a proxy can forward the bytes verbatim and find where the next
// pipelined message begins. It holds no views; reuse one per connection.
type Body struct {
	chunked   ChunkedDecoder
	remaining int64
	kind      BodyKind
	done      bool
}

// Reset starts a body with the given framing; l supplies MaxBodySize and
// the chunk and trailer limits.
func (b *Body) Reset(f Framing, l Limits) {
	b.kind = f.Kind
	b.remaining = f.Length
	b.done = f.Kind == BodyNone || f.Kind == BodyLength && f.Length <= 0
	if f.Kind == BodyChunked {
		b.chunked.Reset(l)
	}
}

// Kind is the framing the body was reset with.
func (b *Body) Kind() BodyKind { return b.kind }

// Done reports that the whole body has been consumed. A BodyUntilClose or
// BodyTunnel body is never done: it ends with the connection.
func (b *Body) Done() bool { return b.done }

// Remaining is how many bytes of a BodyLength body are still to come.
func (b *Body) Remaining() int64 { return b.remaining }

// Next consumes body bytes from the start of p: n bytes of p belong to the
// body and are forwarded verbatim; data is the decoded payload inside them
// (for chunked bodies, at most one run per call, so loop). When Done, the
// rest of p belongs to the next message. ErrNeedMore (chunked only) means p
// ends inside a framing line: keep p[n:] and call again with more appended.
func (b *Body) Next(p []byte) (n int, data []byte, err error) {
	switch b.kind {
	case BodyLength:
		n = len(p)
		if int64(n) >= b.remaining {
			n = int(b.remaining)
			b.done = true
		}
		b.remaining -= int64(n)
		return n, p[:n:n], nil
	case BodyChunked:
		n, data, err = b.chunked.Decode(p)
		b.done = b.chunked.Done()
		return n, data, err
	case BodyUntilClose, BodyTunnel:
		return len(p), p, nil
	}
	return 0, nil, nil
}

// Trailer returns the trailer field the last Next consumed, for chunked
// bodies; see ChunkedDecoder.Trailer.
func (b *Body) Trailer() (name, value []byte, ok bool) {
	if b.kind != BodyChunked {
		return nil, nil, false
	}
	return b.chunked.Trailer()
}

// Skip is Next without the payload: it consumes as much of p as belongs to
// the body in one call, for callers that only forward.
func (b *Body) Skip(p []byte) (n int, err error) {
	for {
		k, _, err := b.Next(p[n:])
		n += k
		if err != nil || b.done || k == 0 || n == len(p) {
			return n, err
		}
	}
}
