package codec

import "bytes"

// span is a half-open byte range [start, end) of the buffer given to Parse.
// Offsets rather than slices keep the state valid when the caller grows or
// moves the buffer between calls, as long as the message stays at offset 0.
type span struct{ start, end uint32 }

func (s span) of(b []byte) []byte { return b[s.start:s.end:s.end] }

// field is one field line: its name, and its value with OWS trimmed.
type field struct{ name, value span }

// Parse stages.
const (
	stageStart  uint8 = iota // before the start line, skipping blank lines
	stageFields              // in the field section
	stageDone                // head complete
	stageFailed              // err is set; Parse keeps returning it
)

// Connection and framing facts gathered while reading fields.
const (
	flagContentLength uint32 = 1 << iota
	flagTransferEnc
	flagChunked     // Transfer-Encoding ends in a single chunked
	flagTEBad       // chunked twice, not last, or an empty element (400)
	flagTEUnknown   // a coding we do not implement (501)
	flagClose       // Connection: close
	flagKeepAlive   // Connection: keep-alive
	flagConnUpgrade // Connection: upgrade
	flagConnOther   // Connection names other fields, to drop when forwarding
	flagUpgrade     // Upgrade field present
	flagH2C         // Upgrade offers h2c, which a proxy never tunnels
	flagHost
	flagExpect100
	flagAbsoluteForm
	flagHopByHop // some field is hop-by-hop: the writer must filter
)

// Limits on leading blank lines before a start line (RFC 9112 §2.2 says to
// ignore at least one); more than this is not a sloppy client.
const maxLeadingBlankLines = 4

// head is what request and response parsing share: the buffer, the place
// reached, and the field table.
type head struct {
	buf    []byte
	fields []field
	limits Limits // resolved copy, taken when a message starts
	err    error
	pos    int // start of the next line not yet parsed
	scan   int // LF has been searched for up to here (resume point)
	// Within the line at pos: bytes validated so far, the scanner's phase,
	// and two line-relative marks (field: name end, value start; request
	// line: method end, target end).
	lineI, mark1, mark2 int
	phase               uint8
	// lineStart is where the start line begins (after blank lines);
	// fieldsStart where the first field line begins; end is the head length.
	lineStart, fieldsStart, end int
	stage                       uint8
	blankLines                  uint8
	flags                       uint32
	contentLen                  int64
	major                       uint8
	minor                       uint8
	hostIdx                     int16 // index of the Host field, -1 if none
	upgradeIdx                  int16
	isRequest                   bool // Host and Expect mean something only in requests
}

func (h *head) reset(l *Limits, isRequest bool) {
	h.isRequest = isRequest
	h.buf = nil
	h.fields = h.fields[:0]
	h.err = nil
	h.pos, h.scan, h.lineStart, h.fieldsStart, h.end = 0, 0, 0, 0, 0
	h.lineI, h.mark1, h.mark2, h.phase = 0, 0, 0, 0
	h.stage, h.blankLines, h.flags = stageStart, 0, 0
	h.contentLen = -1
	h.major, h.minor = 0, 0
	h.hostIdx, h.upgradeIdx = -1, -1
	h.limits = l.resolved()
	if cap(h.fields) < h.limits.MaxFields {
		// The one allocation in a Request's life: the field table, sized
		// once for the limit so that steady-state parsing never grows it.
		h.fields = make([]field, 0, h.limits.MaxFields)
	}
}

func (h *head) fail(err error) (int, error) {
	h.stage = stageFailed
	h.err = err
	return 0, err
}

// nextLine finds the next complete line from h.pos. It returns the line
// without its CRLF and the offset just past the LF. ok is false when no LF is
// in the buffer yet; h.scan then remembers how far the search got. On a bare
// LF it returns the line's bytes before the LF with ErrBareLF, so the caller
// can first report an earlier bad byte, as a byte-at-a-time parse would.
func (h *head) nextLine() (line []byte, next int, ok bool, err error) {
	b := h.buf
	from := h.scan
	if from < h.pos {
		from = h.pos
	}
	i := bytes.IndexByte(b[from:], '\n')
	if i < 0 {
		h.scan = len(b)
		return nil, 0, false, nil
	}
	lf := from + i
	h.scan = lf + 1
	if lf == h.pos || b[lf-1] != '\r' {
		return b[h.pos:lf], 0, false, ErrBareLF
	}
	return b[h.pos : lf-1], lf + 1, true, nil
}

// mustNotShrink guards the resumption contract: a buffer shorter than what
// was already examined means the caller dropped bytes the parser's offsets
// point at, a bug in the caller that would otherwise surface as a bare index
// panic somewhere later.
func mustNotShrink(buf []byte, scanned int) {
	if len(buf) < scanned {
		panic("codec: Parse resumed with fewer bytes than the previous call saw; Reset first for a new message")
	}
}

// partialLine returns the bytes of the unfinished line at h.pos, up to end,
// that can be judged already: all of them but a final CR, which may yet be
// followed by LF.
func (h *head) partialLine(end int) []byte {
	p := h.buf[h.pos:end]
	if len(p) > 0 && p[len(p)-1] == '\r' {
		p = p[:len(p)-1]
	}
	return p
}

// crossed reports whether a start line runs past limitEnd, the offset of
// the first byte other than its LF that a limit forbids. Crossing a limit is
// an event at that byte, like a bad byte: a caller scans the line up to
// limitEnd first, so that whichever comes first wins however the input was
// split. lf is the line's LF offset, or -1 when it has not arrived.
func (h *head) crossed(lf, limitEnd int) bool {
	if lf >= 0 {
		return lf > limitEnd
	}
	return len(h.buf) > limitEnd
}

// lfOf returns the LF offset for nextLine's results, or -1 if there is none yet.
func (h *head) lfOf(line []byte, next int, ok bool, err error) int {
	switch {
	case ok:
		return next - 1
	case err == ErrBareLF:
		return h.pos + len(line)
	}
	return -1
}

// nextLineStart moves to the line after the current one.
func (h *head) nextLineStart(next int) {
	h.pos = next
	h.lineI, h.phase, h.mark1, h.mark2 = 0, 0, 0, 0
}

// firstBad classifies the first byte of b that fails ok: a CR there is a
// bare CR (a line's own CR is never inside what is checked), anything else
// is the given error.
func firstBad(b []byte, ok *[256]bool, err error) error {
	for _, c := range b {
		if !ok[c] {
			if c == '\r' {
				return ErrBareCR
			}
			return err
		}
	}
	return err
}

// Canonical-name checks for the fields the parser acts on. Field names are
// already known to be tokens, so OR-ing 0x20 folds letters and maps no other
// token byte onto a letter or '-'.
func isName(n []byte, lowerName string) bool {
	if len(n) != len(lowerName) {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i]|0x20 != lowerName[i] {
			return false
		}
	}
	return true
}

// fieldLine parses a complete field line that arrived in one piece, the
// common case, with everything in locals. On any error it defers to
// scanField, which names the same error a split line would get.
func (h *head) fieldLine(b []byte) (int, error) {
	j := 0
	for j < len(b) && tokenChar[b[j]] {
		j++
	}
	if j == 0 || j == len(b) || b[j] != ':' {
		return h.scanField(b, true)
	}
	v := j + 1
	for v < len(b) && isOWS(b[v]) {
		v++
	}
	if !valueOK(b[v:]) {
		return h.scanField(b, true)
	}
	e := len(b)
	for e > v && isOWS(b[e-1]) {
		e--
	}
	if len(h.fields) == h.limits.MaxFields {
		return 0, ErrTooManyFields
	}
	off := uint32(h.pos)
	h.fields = append(h.fields, field{
		name:  span{off, off + uint32(j)},
		value: span{off + uint32(v), off + uint32(e)},
	})
	return len(h.fields) - 1, nil
}

// scanField validates a field line left to right from where the previous
// call stopped, so that an error is the same whether the line arrived whole
// or a byte at a time, and no byte is looked at twice. b is the line from
// its start: the complete line without CRLF when final, else what has come.
// When final it stores the field and returns its index.
func (h *head) scanField(b []byte, final bool) (int, error) {
	i := h.lineI
	if h.phase == 0 {
		for i < len(b) && tokenChar[b[i]] {
			i++
		}
		if i < len(b) {
			if c := b[i]; c != ':' || i == 0 {
				switch {
				case c == '\r':
					return 0, ErrBareCR
				case i == 0 && isOWS(c):
					return 0, ErrObsFold
				case isOWS(c):
					return 0, ErrSpaceBeforeColon
				}
				return 0, ErrBadFieldName
			}
			h.mark1 = i
			h.phase = 1
			i++
		}
	}
	if h.phase == 1 {
		for i < len(b) && isOWS(b[i]) {
			i++
		}
		if i < len(b) {
			h.mark2 = i
			h.phase = 2
		}
	}
	if h.phase == 2 && i < len(b) {
		if !valueOK(b[i:]) {
			return 0, firstBad(b[i:], &valueChar, ErrBadFieldValue)
		}
		i = len(b)
	}
	h.lineI = i
	if !final {
		return 0, nil
	}
	switch h.phase {
	case 0:
		return 0, ErrBadFieldName // no colon
	case 1:
		h.mark2 = len(b)
	}
	e := len(b)
	for e > h.mark2 && isOWS(b[e-1]) {
		e--
	}
	if len(h.fields) == h.limits.MaxFields {
		return 0, ErrTooManyFields
	}
	off := h.pos
	h.fields = append(h.fields, field{
		name:  span{uint32(off), uint32(off + h.mark1)},
		value: span{uint32(off + h.mark2), uint32(off + e)},
	})
	return len(h.fields) - 1, nil
}

// framingField interprets the fields requests and responses share. name is
// the field's name; idx its index.
func (h *head) framingField(name, value []byte, idx int) error {
	switch len(name) {
	case 4:
		if h.isRequest && isName(name, "host") {
			if h.flags&flagHost != 0 {
				return ErrDuplicateHost
			}
			if !hostOK(value) {
				return ErrBadHost
			}
			h.flags |= flagHost
			h.hostIdx = int16(idx)
		}
	case 6:
		if h.isRequest && isName(name, "expect") && equalFold(value, "100-continue") {
			h.flags |= flagExpect100
		}
	case 14:
		if isName(name, "content-length") {
			if h.flags&flagContentLength != 0 {
				return ErrDuplicateContentLength
			}
			n, ok := parseDecimal(value)
			if !ok {
				return ErrBadContentLength
			}
			h.flags |= flagContentLength
			h.contentLen = n
		}
	case 17:
		if isName(name, "transfer-encoding") {
			h.flags |= flagTransferEnc
			h.transferEncoding(value)
		}
	case 10:
		if isName(name, "connection") {
			h.flags |= flagHopByHop
			h.connection(value)
		} else if isName(name, "keep-alive") {
			h.flags |= flagHopByHop
		}
	case 7:
		if isName(name, "upgrade") {
			h.flags |= flagUpgrade | flagHopByHop
			if h.upgradeIdx < 0 {
				h.upgradeIdx = int16(idx)
			}
			for e, rest := nextListElem(value); len(e) > 0; e, rest = nextListElem(rest) {
				if equalFold(e, "h2c") {
					h.flags |= flagH2C
				}
			}
		} else if isName(name, "trailer") {
			h.flags |= flagHopByHop
		}
	case 2:
		if isName(name, "te") {
			h.flags |= flagHopByHop
		}
	case 16:
		if isName(name, "proxy-connection") {
			h.flags |= flagHopByHop
		}
	}
	return nil
}

// transferEncoding folds one Transfer-Encoding field into the flags. The
// codings of all such fields form one list (RFC 9110 §5.3); chunked must be
// last and appear once (RFC 9112 §6.1). Empty list elements, which RFC 9110
// §5.6.1 lets recipients skip, are refused here: an upstream that does not
// skip them reads ",chunked" as an unknown coding and the body as the next
// request.
func (h *head) transferEncoding(v []byte) {
	for {
		i := bytes.IndexByte(v, ',')
		end := i
		if i < 0 {
			end = len(v)
		}
		e := trimOWS(v[:end])
		switch {
		case len(e) == 0:
			h.flags |= flagTEBad
		case h.flags&flagChunked != 0:
			// Something follows chunked: chunked again or another coding
			// after it. Either way the length cannot be determined.
			h.flags |= flagTEBad
			h.flags &^= flagChunked
		}
		// Parameters (";q=…") are not allowed on the one coding we accept.
		if equalFold(e, "chunked") {
			if h.flags&flagTEBad == 0 {
				h.flags |= flagChunked
			}
		} else if len(e) > 0 {
			h.flags |= flagTEUnknown
		}
		if i < 0 {
			return
		}
		v = v[i+1:]
	}
}

// connection records the connection options of one Connection field.
func (h *head) connection(v []byte) {
	for e, rest := nextListElem(v); len(e) > 0; e, rest = nextListElem(rest) {
		switch {
		case equalFold(e, "close"):
			h.flags |= flagClose
		case equalFold(e, "keep-alive"):
			h.flags |= flagKeepAlive
		case equalFold(e, "upgrade"):
			h.flags |= flagConnUpgrade
		default:
			h.flags |= flagConnOther
		}
	}
}

// parseFields runs the field section from h.pos until the empty line. It
// returns nil once the head is complete.
func (h *head) parseFields() error {
	for {
		line, next, ok, err := h.nextLine()
		// The section may hold MaxHeaderBytes bytes: a byte (LF included)
		// at fieldsStart+MaxHeaderBytes crosses the limit.
		limitEnd := h.fieldsStart + h.limits.MaxHeaderBytes
		if lf := h.lfOf(line, next, ok, err); lf >= limitEnd || lf < 0 && len(h.buf) > limitEnd {
			if _, e := h.scanField(h.partialLine(limitEnd), false); e != nil {
				return e
			}
			return ErrHeaderTooLarge
		}
		if err == ErrBareLF {
			if _, e := h.scanField(line, false); e != nil {
				return e
			}
			return err
		}
		if !ok {
			if _, err := h.scanField(h.partialLine(len(h.buf)), false); err != nil {
				return err
			}
			return ErrNeedMore
		}
		if len(line) == 0 {
			h.nextLineStart(next)
			h.end = next
			return nil
		}
		var idx int
		if h.lineI == 0 {
			idx, err = h.fieldLine(line)
		} else {
			idx, err = h.scanField(line, true)
		}
		if err != nil {
			return err
		}
		f := h.fields[idx]
		if err := h.framingField(f.name.of(h.buf), f.value.of(h.buf), idx); err != nil {
			return err
		}
		h.nextLineStart(next)
	}
}
