package codec

import "bytes"

// maxChunkSizeDigits is the most hex digits a chunk size may have.
const maxChunkSizeDigits = 16

// Chunked decoder states.
const (
	chSize    uint8 = iota // expecting a chunk-size line
	chData                 // inside chunk data
	chDataCR               // expecting the CR after chunk data
	chDataLF               // expecting the LF after chunk data
	chTrailer              // in the trailer section
	chDone
	chFailed
)

// ChunkedDecoder walks a chunked body (RFC 9112 §7.1) as it streams past:
// it validates the framing, hands back the payload for inspection, and says
// how many bytes belong to the body so that the caller can forward them
// verbatim, framing and trailers included. It holds no views; the zero value
// is ready, and Reset makes it so again.
type ChunkedDecoder struct {
	limits    Limits
	remaining int64 // bytes of chunk data still to come
	total     int64 // payload bytes so far, for MaxBodySize
	scanned   int   // bytes of the pending line already searched for LF
	trailerN  int   // trailer field lines so far
	trailerB  int   // trailer section bytes so far
	err       error
	// The trailer field the last Decode call ended on (views into its p).
	trName, trValue []byte
	state           uint8
	resolved        bool
}

// Reset readies d for a new body under the given limits.
func (d *ChunkedDecoder) Reset(l Limits) {
	*d = ChunkedDecoder{limits: l.resolved(), resolved: true}
}

// Trailer returns the trailer field (name, and value with OWS trimmed) that
// the last Decode call consumed, and false if that call did not end on one.
// Decode returns after each trailer line so that callers can inspect them
// (gRPC's status travels there). Views into the p given to that Decode call.
func (d *ChunkedDecoder) Trailer() (name, value []byte, ok bool) {
	return d.trName, d.trValue, d.trName != nil
}

// Done reports that the last chunk and the trailer section have been consumed.
func (d *ChunkedDecoder) Done() bool { return d.state == chDone }

// Decode consumes body bytes from the start of p, which must begin where the
// previous call's n ended. It returns n, the bytes of p that belong to the
// body (forward p[:n] verbatim), and data, the payload inside p[:n] — at most
// one contiguous run per call, so loop until n == len(p) or Done.
//
// ErrNeedMore means p ends inside a chunk-size or trailer line: keep p[n:]
// and present it again at the start of the next call, with more appended;
// what was already searched is not searched again. Once Done, Decode returns
// 0: the rest of p is the next message.
func (d *ChunkedDecoder) Decode(p []byte) (n int, data []byte, err error) {
	if !d.resolved {
		d.Reset(Limits{})
	}
	d.trName, d.trValue = nil, nil
	for n < len(p) || d.state == chSize || d.state == chTrailer {
		switch d.state {
		case chData:
			k := len(p) - n
			if int64(k) > d.remaining {
				k = int(d.remaining)
			}
			d.remaining -= int64(k)
			if d.remaining == 0 {
				d.state = chDataCR
			}
			return n + k, p[n : n+k : n+k], nil
		case chDataCR, chDataLF:
			want := byte('\r')
			if d.state == chDataLF {
				want = '\n'
			}
			if p[n] != want {
				return d.failAt(n, ErrBadChunkData)
			}
			n++
			if d.state == chDataCR {
				d.state = chDataLF
			} else {
				d.state = chSize
			}
		case chSize, chTrailer:
			line, adv, err := d.line(p[n:])
			if err != nil {
				if err == ErrNeedMore {
					return n, nil, err
				}
				return d.failAt(n, err)
			}
			if d.state == chSize {
				err = d.sizeLine(line)
			} else {
				err = d.trailerLine(line, adv)
			}
			if err != nil {
				return d.failAt(n, err)
			}
			n += adv
			if d.trName != nil {
				return n, nil, nil // one trailer field per call, for Trailer
			}
		case chDone:
			return n, nil, nil
		case chFailed:
			return n, nil, d.err
		}
	}
	return n, nil, nil
}

func (d *ChunkedDecoder) failAt(n int, err error) (int, []byte, error) {
	d.state = chFailed
	d.err = err
	return n, nil, err
}

// line returns the next CRLF-terminated line of p (without CRLF) and the
// bytes it spans, or ErrNeedMore, remembering how far the LF search got.
func (d *ChunkedDecoder) line(p []byte) (line []byte, adv int, err error) {
	limit := d.limits.MaxChunkLine
	if d.state == chTrailer {
		limit = d.limits.MaxHeaderBytes
	}
	from := d.scanned
	if from > len(p) {
		from = 0 // the caller did not keep the pending bytes; search anew
	}
	i := bytes.IndexByte(p[from:], '\n')
	if i < 0 {
		d.scanned = len(p)
		// A pending trailer line counts against the section with at least
		// the LF it still needs; a chunk-size line may end in its CR.
		if d.state == chTrailer && d.trailerB+len(p)+1 > limit || len(p) > limit+1 {
			return nil, 0, d.tooLong()
		}
		return nil, 0, ErrNeedMore
	}
	lf := from + i
	d.scanned = 0
	// The same limits as above, judged before the line's own syntax so that
	// the error does not depend on how the input was split.
	if d.state == chTrailer && d.trailerB+lf+1 > limit || lf > limit+1 {
		return nil, 0, d.tooLong()
	}
	if lf == 0 || p[lf-1] != '\r' {
		return nil, 0, ErrBareLF
	}
	return p[: lf-1 : lf-1], lf + 1, nil
}

func (d *ChunkedDecoder) tooLong() error {
	if d.state == chTrailer {
		return ErrHeaderTooLarge
	}
	return ErrChunkLineTooLong
}

// sizeLine parses chunk-size [chunk-ext] (RFC 9112 §7.1.1). No whitespace
// anywhere: the BWS the grammar tolerates is where parsers have disagreed
// about chunk sizes, which is how chunked smuggling works.
func (d *ChunkedDecoder) sizeLine(line []byte) error {
	var size int64
	i := 0
	for ; i < len(line); i++ {
		v := hexVal[line[i]]
		if v < 0 {
			break
		}
		if size > (1<<63-1)>>4 {
			return ErrBadChunkSize
		}
		size = size<<4 | int64(v)
	}
	// At most 16 digits, leading zeros included: parsers that read a fixed
	// number of digits see a zero-padded size differently (net/http also
	// stops at 16).
	if i == 0 || i > maxChunkSizeDigits {
		return ErrBadChunkSize
	}
	if i < len(line) {
		if line[i] != ';' {
			if bytes.IndexByte(line[i:], '\r') >= 0 {
				return ErrBareCR
			}
			return ErrBadChunkSize
		}
		if !chunkExtOK(line[i:]) {
			return ErrBadChunkExtension
		}
	}
	if max := d.limits.MaxBodySize; max > 0 && size > max-d.total {
		return ErrBodyTooLarge
	}
	d.total += size
	if size == 0 {
		d.state = chTrailer
		return nil
	}
	d.remaining = size
	d.state = chData
	return nil
}

// chunkExtOK validates *( ";" token [ "=" ( token / quoted-string ) ] ).
func chunkExtOK(b []byte) bool {
	i := 0
	for i < len(b) {
		if b[i] != ';' {
			return false
		}
		i++
		s := i
		for i < len(b) && tokenChar[b[i]] {
			i++
		}
		if i == s {
			return false
		}
		if i == len(b) || b[i] == ';' {
			continue
		}
		if b[i] != '=' {
			return false
		}
		i++
		if i < len(b) && b[i] == '"' {
			i++
			for {
				if i == len(b) {
					return false
				}
				c := b[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' {
					i++
					if i == len(b) || !valueChar[b[i]] {
						return false
					}
				} else if !valueChar[c] {
					return false
				}
				i++
			}
			continue
		}
		s = i
		for i < len(b) && tokenChar[b[i]] {
			i++
		}
		if i == s {
			return false
		}
	}
	return true
}

// trailerLine validates a trailer field line (RFC 9112 §7.1.2) with the
// field-line rules of a head and keeps its views for Trailer; the empty line
// ends the body.
func (d *ChunkedDecoder) trailerLine(line []byte, adv int) error {
	d.trailerB += adv
	if d.trailerB > d.limits.MaxHeaderBytes {
		return ErrHeaderTooLarge
	}
	if len(line) == 0 {
		d.state = chDone
		return nil
	}
	d.trailerN++
	if d.trailerN > d.limits.MaxFields {
		return ErrTooManyFields
	}
	j := 0
	for j < len(line) && tokenChar[line[j]] {
		j++
	}
	if j == len(line) || line[j] != ':' || j == 0 {
		switch {
		case j == len(line):
		case line[j] == '\r':
			return ErrBareCR
		case j == 0 && isOWS(line[0]):
			return ErrObsFold
		case isOWS(line[j]):
			return ErrSpaceBeforeColon
		}
		return ErrBadFieldName
	}
	if !valueOK(line[j+1:]) {
		return firstBad(line[j+1:], &valueChar, ErrBadFieldValue)
	}
	d.trName, d.trValue = line[:j:j], trimOWS(line[j+1:])
	return nil
}
