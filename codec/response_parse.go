package codec

// Response is a parsed response head, the upstream side's Request. Reuse one
// per upstream connection and Reset it before each message, then set
// RequestMethod so that framing can tell a HEAD or CONNECT answer apart.
//
// Every []byte an accessor returns is a view into the buffer last given to
// Parse: it is valid until that buffer is reused or modified, or until Reset.
type Response struct {
	_ noCopy
	// Limits apply from the next Reset (or the first Parse of a zero
	// Response). MaxRequestLine bounds the status line.
	Limits Limits
	// RequestMethod is the method of the request this answers; HEAD and
	// CONNECT change how the body is framed (RFC 9112 §6.3). Set it after Reset.
	RequestMethod Method
	head
	version     span
	reason      span
	status      int
	initialized bool
}

// Reset forgets the previous message, invalidating every view it returned,
// and sets RequestMethod back to MethodGet.
func (r *Response) Reset() {
	r.head.reset(&r.Limits, false)
	r.version, r.reason = span{}, span{}
	r.status = 0
	r.RequestMethod = MethodGet
	r.initialized = true
}

// Parse parses the response head at the start of buf, with the same contract
// as Request.Parse. Every error other than ErrNeedMore means the upstream
// sent something the proxy must not forward: answer 502 and close.
func (r *Response) Parse(buf []byte) (n int, err error) {
	if !r.initialized {
		m := r.RequestMethod
		r.Reset()
		r.RequestMethod = m
	}
	switch r.stage {
	case stageDone:
		return r.end, nil
	case stageFailed:
		return 0, r.err
	}
	mustNotShrink(buf, r.scan)
	r.buf = buf
	if r.stage == stageStart {
		if err := r.parseStatusLine(); err != nil {
			if err == ErrNeedMore {
				return 0, err
			}
			return r.fail(err)
		}
	}
	if err := r.parseFields(); err != nil {
		if err == ErrNeedMore {
			return 0, err
		}
		return r.fail(err)
	}
	if err := r.finish(); err != nil {
		return r.fail(err)
	}
	r.stage = stageDone
	return r.end, nil
}

func (r *Response) parseStatusLine() error {
	for {
		line, next, ok, err := r.nextLine()
		limitEnd := r.pos + r.limits.MaxRequestLine + 1 // as for a request line
		if lf := r.lfOf(line, next, ok, err); r.crossed(lf, limitEnd) {
			if e := r.scanStatusLine(r.partialLine(limitEnd), false); e != nil {
				return e
			}
			return ErrHeaderTooLarge
		}
		if err == ErrBareLF {
			if e := r.scanStatusLine(line, false); e != nil {
				return e
			}
			return err
		}
		if !ok {
			if err := r.scanStatusLine(r.partialLine(len(r.buf)), false); err != nil {
				return err
			}
			return ErrNeedMore
		}
		if len(line) == 0 {
			// Servers emit stray CRLFs after bodies; tolerate a few as a
			// request parser must (RFC 9112 §2.2).
			if r.blankLines == maxLeadingBlankLines {
				return ErrBadStatusLine
			}
			r.blankLines++
			r.nextLineStart(next)
			continue
		}
		if err := r.scanStatusLine(line, true); err != nil {
			return err
		}
		r.lineStart = r.pos
		r.fieldsStart = next
		r.nextLineStart(next)
		r.stage = stageFields
		return nil
	}
}

// scanStatusLine parses HTTP-version SP 3DIGIT [SP reason-phrase]
// (RFC 9112 §4) left to right from where the last call stopped, like
// scanRequestLine. The SP before an empty reason may be missing: servers
// omit it and RFC 9112 §4 asks clients to tolerate that.
func (r *Response) scanStatusLine(b []byte, final bool) error {
	i := r.lineI
	for ; i < len(b) && i < 13; i++ {
		c := b[i]
		if c == '\r' {
			return ErrBareCR
		}
		switch {
		case i < 8:
			if err := versionByte(i, c); err != nil {
				return err
			}
		case i == 8 || i == 12:
			if c != ' ' {
				return ErrBadStatusLine
			}
		default:
			if c-'0' > 9 || i == 9 && (c < '1' || c > '5') {
				// RFC 9110 §15: codes outside 100..599 are invalid.
				return ErrBadStatusLine
			}
		}
	}
	if i >= 13 && i < len(b) {
		if !valueOK(b[i:]) {
			return firstBad(b[i:], &valueChar, ErrBadStatusLine)
		}
		i = len(b)
	}
	r.lineI = i
	if !final {
		return nil
	}
	if len(b) < 12 {
		return ErrBadStatusLine
	}
	r.major, r.minor = 1, b[7]-'0'
	r.status = int(b[9]-'0')*100 + int(b[10]-'0')*10 + int(b[11]-'0')
	off := r.pos
	rs := off + 12
	if len(b) > 12 {
		rs = off + 13
	}
	r.version = span{uint32(off), uint32(off + 8)}
	r.reason = span{uint32(rs), uint32(off + len(b))}
	return nil
}

// finish checks the framing fields once the whole head is in.
func (r *Response) finish() error {
	f := r.flags
	if f&flagTransferEnc != 0 {
		switch {
		case f&flagContentLength != 0:
			return ErrLengthAndChunked
		case r.minor == 0:
			return ErrBadTransferEncoding
		case f&flagTEBad != 0:
			return ErrBadTransferEncoding
		case f&flagTEUnknown != 0 || f&flagChunked == 0:
			// RFC 9112 §6.3 would read this until close; a proxy that
			// cannot decode the coding cannot re-frame it, so refuse.
			return ErrUnsupportedTransferEncoding
		}
	}
	return nil
}

// Status is the status code.
func (r *Response) Status() int { return r.status }

// Reason returns the reason phrase (possibly empty). View: valid until the buffer is reused.
func (r *Response) Reason() []byte { return r.reason.of(r.buf) }

// Proto returns the version as received. View: valid until the buffer is reused.
func (r *Response) Proto() []byte { return r.version.of(r.buf) }

// ProtoMinor is the minor version.
func (r *Response) ProtoMinor() int { return int(r.minor) }

// HeadLen is the length of the parsed head.
func (r *Response) HeadLen() int { return r.end }

// NumFields is the number of field lines.
func (r *Response) NumFields() int { return len(r.fields) }

// Field returns field line i's name and trimmed value. Views: valid until the buffer is reused.
func (r *Response) Field(i int) (name, value []byte) {
	f := r.fields[i]
	return f.name.of(r.buf), f.value.of(r.buf)
}

// Get returns the first value of the named field (case-insensitive).
// View: valid until the buffer is reused.
func (r *Response) Get(name string) ([]byte, bool) { return r.get(name) }

// ContentLength is the Content-Length value, or -1 when there is none.
func (r *Response) ContentLength() int64 { return r.contentLen }

// Chunked reports a chunked body (which Framing ignores for bodiless statuses).
func (r *Response) Chunked() bool { return r.flags&flagChunked != 0 }

// KeepAlive reports whether the upstream connection may be reused after
// this response (and its body) as far as the head says; a body delimited by
// close also ends the connection.
func (r *Response) KeepAlive() bool {
	return keepAlive(r.flags, r.minor) && r.Framing().Kind != BodyUntilClose
}

// Interim reports a 1xx response other than 101: another response to the
// same request follows it.
func (r *Response) Interim() bool { return r.status < 200 && r.status != 101 }

// Upgrade reports a 101 Switching Protocols that a proxy may tunnel (not h2c).
func (r *Response) Upgrade() bool {
	return r.status == 101 && r.flags&flagH2C == 0
}

// Framing says how the body is delimited (RFC 9112 §6.3): none for answers
// to HEAD and for 1xx, 204 and 304 whatever the fields claim; a tunnel after
// 101 or a 2xx answer to CONNECT; else chunked, Content-Length, or until the
// connection closes.
func (r *Response) Framing() Framing {
	s := r.status
	switch {
	case s == 101 || r.RequestMethod == MethodConnect && s >= 200 && s < 300:
		return Framing{Kind: BodyTunnel}
	case r.RequestMethod == MethodHead || s < 200 || s == 204 || s == 304:
		return Framing{Kind: BodyNone}
	case r.flags&flagChunked != 0:
		return Framing{Kind: BodyChunked}
	case r.contentLen == 0:
		return Framing{Kind: BodyNone}
	case r.contentLen > 0:
		return Framing{Kind: BodyLength, Length: r.contentLen}
	}
	return Framing{Kind: BodyUntilClose}
}
