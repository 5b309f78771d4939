package codec

import "bytes"

// Request is a parsed request head: offsets into the caller's buffer plus
// what the fields say about framing and the connection. Reuse one per
// connection: Reset it before each message. The first Parse allocates the
// field table once; after that parsing allocates nothing.
//
// Every []byte an accessor returns is a view into the buffer last given to
// Parse: it is valid until that buffer is reused or modified, or until Reset.
// Copy what must outlive it.
type Request struct {
	_ noCopy
	// Limits apply from the next Reset (or the first Parse of a zero Request).
	Limits Limits
	head
	method      span
	target      span
	path, query span // origin-form split; authority-form and "*" leave path empty
	authority   span // from absolute-form or authority-form targets
	version     span
	methodID    Method
	initialized bool
}

// Reset forgets the previous message, invalidating every view it returned.
func (r *Request) Reset() {
	r.head.reset(&r.Limits, true)
	r.method, r.target, r.path, r.query, r.authority, r.version = span{}, span{}, span{}, span{}, span{}, span{}
	r.methodID = MethodOther
	r.initialized = true
}

// Parse parses the request head at the start of buf. It returns the head's
// length (blank lines before it included) once the empty line ending it is in
// buf; the body, if any, starts at buf[n:].
//
// When buf ends inside the head, Parse returns ErrNeedMore: call it again with
// the same bytes at the start of buf and more appended (buf may have moved or
// grown). Nothing is rescanned. Any other error is an *Error whose Status is
// the answer to send before closing the connection; Parse keeps returning it
// until Reset.
func (r *Request) Parse(buf []byte) (n int, err error) {
	if !r.initialized {
		r.Reset()
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
		if err := r.parseRequestLine(); err != nil {
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

func (r *Request) parseRequestLine() error {
	for {
		line, next, ok, err := r.nextLine()
		// The line may hold MaxRequestLine bytes plus its CR; any byte but
		// the LF at pos+MaxRequestLine+1 crosses the limit.
		limitEnd := r.pos + r.limits.MaxRequestLine + 1
		if lf := r.lfOf(line, next, ok, err); r.crossed(lf, limitEnd) {
			if e := r.scanRequestLine(r.partialLine(limitEnd), false); e != nil {
				return e
			}
			return ErrRequestLineTooLong
		}
		if err == ErrBareLF {
			if e := r.scanRequestLine(line, false); e != nil {
				return e
			}
			return err
		}
		if !ok {
			if err := r.scanRequestLine(r.partialLine(len(r.buf)), false); err != nil {
				return err
			}
			return ErrNeedMore
		}
		if len(line) == 0 {
			if r.blankLines == maxLeadingBlankLines {
				return ErrBadRequestLine
			}
			r.blankLines++
			r.nextLineStart(next)
			continue
		}
		if err := r.scanRequestLine(line, true); err != nil {
			return err
		}
		r.lineStart = r.pos
		r.fieldsStart = next
		r.nextLineStart(next)
		r.stage = stageFields
		return nil
	}
}

// Request-line scanner phases.
const (
	rlMethod uint8 = iota
	rlTarget
	rlVersion
)

// scanRequestLine parses method SP request-target SP HTTP-version
// (RFC 9112 §3), one SP between parts, left to right from where the last
// call stopped: the first bad byte decides the error whether the line came
// whole or in pieces. b is the line from its start (without CRLF when final).
func (r *Request) scanRequestLine(b []byte, final bool) error {
	i := r.lineI
scan:
	for i < len(b) {
		switch r.phase {
		case rlMethod:
			for i < len(b) && tokenChar[b[i]] {
				i++
			}
			if i == len(b) {
				break scan
			}
			c := b[i]
			switch {
			case c == ' ' && i > 0:
				r.mark1, r.phase = i, rlTarget
				i++
				continue
			case c == '\r':
				return ErrBareCR
			case i > 0 && isOWS(c):
				return ErrBadRequestLine
			}
			return ErrBadMethod
		case rlTarget:
			for i < len(b) && targetChar[b[i]] {
				i++
			}
			if i == len(b) {
				break scan
			}
			c := b[i]
			switch {
			case c == ' ' && i > r.mark1+1:
				r.mark2, r.phase = i, rlVersion
				i++
				continue
			case c == '\r':
				return ErrBareCR
			}
			return ErrBadTarget
		case rlVersion:
			c := b[i]
			if c == '\r' {
				return ErrBareCR
			}
			if err := versionByte(i-r.mark2-1, c); err != nil {
				if err == errVersionTooLong {
					return ErrBadRequestLine
				}
				return err
			}
			i++
		}
	}
	r.lineI = i
	if !final {
		return nil
	}
	if r.phase != rlVersion {
		return ErrBadRequestLine // HTTP/0.9 has no version: refused
	}
	if len(b)-r.mark2-1 != 8 {
		return ErrBadVersion
	}
	r.minor = b[len(b)-1] - '0'
	r.major = 1
	off := r.pos
	r.method = span{uint32(off), uint32(off + r.mark1)}
	r.methodID = lookupMethod(b[:r.mark1])
	if r.methodID == MethodOther && !r.limits.ExtensionMethods {
		return ErrUnknownMethod
	}
	r.target = span{uint32(off + r.mark1 + 1), uint32(off + r.mark2)}
	r.version = span{uint32(off + r.mark2 + 1), uint32(off + len(b))}
	return r.parseTarget(b[r.mark1+1:r.mark2], off+r.mark1+1)
}

// errVersionTooLong marks a byte after a complete version; callers turn it
// into their own line error.
var errVersionTooLong = newError(400, "codec: bytes after HTTP version")

// versionByte checks byte k of "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3).
// Only major version 1 exists for this parser: others are 505.
func versionByte(k int, c byte) error {
	switch {
	case k < 5:
		if c != "HTTP/"[k] {
			return ErrBadVersion
		}
	case k == 5:
		if c-'0' > 9 {
			return ErrBadVersion
		}
		if c != '1' {
			return ErrVersionNotSupported
		}
	case k == 6:
		if c != '.' {
			return ErrBadVersion
		}
	case k == 7:
		if c-'0' > 9 {
			return ErrBadVersion
		}
	default:
		return errVersionTooLong
	}
	return nil
}

// parseTarget checks the request-target form against the method
// (RFC 9112 §3.2) and records path, query and authority.
func (r *Request) parseTarget(t []byte, off int) error {
	if len(t) == 0 || !pctOK(t) {
		return ErrBadTarget
	}
	switch {
	case r.methodID == MethodConnect:
		// authority-form: uri-host ":" port, and nothing else is allowed
		// for CONNECT (RFC 9112 §3.2.3).
		if !hostOK(t) || !hasPort(t) {
			return ErrBadTarget
		}
		r.authority = span{uint32(off), uint32(off + len(t))}
		return nil
	case t[0] == '/':
		return r.pathQuery(t, off)
	case len(t) == 1 && t[0] == '*':
		if r.methodID != MethodOptions {
			return ErrBadTarget
		}
		return nil
	}
	// absolute-form: only http and https, which are all a gateway routes
	// (RFC 9110 §4.2); the authority must be present and have no userinfo.
	i := 0
	switch {
	case len(t) > 7 && equalFold(t[:7], "http://"):
		i = 7
	case len(t) > 8 && equalFold(t[:8], "https://"):
		i = 8
	default:
		return ErrBadTarget
	}
	a := i
	for i < len(t) && t[i] != '/' && t[i] != '?' {
		i++
	}
	if i == a || !hostOK(t[a:i]) {
		return ErrBadTarget
	}
	r.authority = span{uint32(off + a), uint32(off + i)}
	r.flags |= flagAbsoluteForm
	return r.pathQuery(t[i:], off+i)
}

// hasPort reports whether an authority ends in ":" 1*DIGIT.
func hasPort(a []byte) bool {
	i := len(a)
	for i > 0 && a[i-1]-'0' <= 9 {
		i--
	}
	return i < len(a) && i > 1 && a[i-1] == ':'
}

// pathQuery splits path ["?" query] at the first '?'. Its bytes were
// already checked against targetChar by scanRequestLine.
func (r *Request) pathQuery(t []byte, off int) error {
	q := bytes.IndexByte(t, '?')
	if q < 0 {
		r.path = span{uint32(off), uint32(off + len(t))}
		r.query = span{uint32(off + len(t)), uint32(off + len(t))}
		return nil
	}
	r.path = span{uint32(off), uint32(off + q)}
	r.query = span{uint32(off + q + 1), uint32(off + len(t))}
	return nil
}

// finish applies the rules that need the whole field section.
func (r *Request) finish() error {
	f := r.flags
	if f&flagHost == 0 && r.minor >= 1 {
		return ErrMissingHost
	}
	if f&flagTransferEnc != 0 {
		switch {
		case f&flagContentLength != 0:
			return ErrLengthAndChunked
		case r.minor == 0:
			// RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding
			// has faulty framing.
			return ErrBadTransferEncoding
		case f&flagTEBad != 0:
			return ErrBadTransferEncoding
		case f&flagTEUnknown != 0 || f&flagChunked == 0:
			return ErrUnsupportedTransferEncoding
		}
	}
	if r.methodID == MethodConnect && f&(flagTransferEnc|flagContentLength) != 0 {
		return ErrConnectBody
	}
	if max := r.limits.MaxBodySize; max > 0 && r.contentLen > max {
		return ErrBodyTooLarge
	}
	return nil
}
