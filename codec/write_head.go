package codec

// Byte strings the writer points iovecs at; never modified.
var (
	bColonSP     = []byte(": ")
	bCRLF        = []byte("\r\n")
	bSP          = []byte(" ")
	bSlash       = []byte("/")
	bStar        = []byte("*")
	bQuestion    = []byte("?")
	bHost        = []byte("Host")
	bConnUpgrade = []byte("Connection: upgrade\r\n")
)

// maxSetEdits bounds the Set edits tracked for in-place replacement; any
// beyond it are appended instead, which is still correct HTTP.
const maxSetEdits = 64

// HeadWriter turns a parsed head plus Edits into iovecs for writev. Runs of
// the original head that survive unchanged become single slices of the
// original buffer; only edited parts point elsewhere. It drops hop-by-hop
// fields (RFC 9110 §7.6.1): Connection and every field it names, Keep-Alive,
// Proxy-Connection, TE, Trailer, and Upgrade unless Edits.Tunnel.
//
// Reuse one per connection: its iovec slice is kept between calls, so after
// the first few heads writing allocates nothing.
type HeadWriter struct {
	iov      [][]byte
	buf      []byte
	run      span // pending run of original bytes not yet in iov
	inRun    bool
	code     [3]byte
	setDone  uint64 // Set edits already written in place
	hostDone bool
}

// Request returns the iovecs of r's head with e applied (e may be nil). An
// absolute-form target is sent in origin-form, with its authority as Host
// unless e sets one, since the upstream is an origin server (RFC 9112 §3.2.2).
// The result is valid until the next call on w; its slices point into r's
// buffer and e's values, which must stay unchanged until written.
func (w *HeadWriter) Request(r *Request, e *Edits) [][]byte {
	w.start(r.buf)
	var host []byte
	if e != nil {
		host = e.host
	}
	absolute := r.flags&flagAbsoluteForm != 0
	if host == nil && absolute {
		host = r.authority.of(r.buf)
	}
	if (e == nil || e.target == nil && e.method == nil) && !absolute {
		w.orig(r.lineStart, r.fieldsStart)
	} else {
		if e != nil && e.method != nil {
			w.lit(e.method)
		} else {
			w.lit(r.method.of(r.buf))
		}
		w.lit(bSP)
		switch {
		case e != nil && e.target != nil:
			w.lit(e.target)
		default:
			p, q := r.path.of(r.buf), r.query.of(r.buf)
			switch {
			case len(p) > 0:
				w.lit(p)
			case r.methodID == MethodOptions && r.query.start == r.query.end && r.path.end == r.query.end:
				w.lit(bStar) // RFC 9112 §3.2.4
			default:
				w.lit(bSlash)
			}
			if r.query.start != r.path.end {
				w.lit(bQuestion)
				w.lit(q)
			}
		}
		w.lit(bSP)
		w.lit(r.version.of(r.buf))
		w.lit(bCRLF)
	}
	if host != nil && r.hostIdx < 0 {
		w.field(bHost, host)
		w.hostDone = true
	}
	tunnel := e != nil && e.Tunnel && r.Upgrade()
	w.fields(&r.head, e, host, tunnel)
	return w.finish(r.end, e, tunnel)
}

// Response returns the iovecs of r's head with e applied (e may be nil),
// under the same lifetime rules as Request.
func (w *HeadWriter) Response(r *Response, e *Edits) [][]byte {
	w.start(r.buf)
	if e == nil || e.status == 0 {
		w.orig(r.lineStart, r.fieldsStart)
	} else {
		c := e.status
		w.code = [3]byte{byte('0' + c/100%10), byte('0' + c/10%10), byte('0' + c%10)}
		w.lit(r.version.of(r.buf))
		w.lit(bSP)
		w.lit(w.code[:])
		w.lit(bSP)
		w.lit(e.reason)
		w.lit(bCRLF)
	}
	tunnel := e != nil && e.Tunnel && r.Upgrade()
	w.fields(&r.head, e, nil, tunnel)
	return w.finish(r.end, e, tunnel)
}

func (w *HeadWriter) start(buf []byte) {
	w.iov = w.iov[:0]
	w.buf = buf
	w.inRun = false
	w.setDone = 0
	w.hostDone = false
}

// orig appends buf[start:end], merging it into the pending run when adjacent.
func (w *HeadWriter) orig(start, end int) {
	if w.inRun && int(w.run.end) == start {
		w.run.end = uint32(end)
		return
	}
	w.flush()
	w.run = span{uint32(start), uint32(end)}
	w.inRun = true
}

func (w *HeadWriter) flush() {
	if w.inRun {
		w.iov = append(w.iov, w.run.of(w.buf))
		w.inRun = false
	}
}

func (w *HeadWriter) lit(b []byte) {
	w.flush()
	if len(b) > 0 {
		w.iov = append(w.iov, b)
	}
}

func (w *HeadWriter) field(name, value []byte) {
	w.lit(name)
	w.lit(bColonSP)
	w.lit(value)
	w.lit(bCRLF)
}

// fields writes the field lines that survive, with Set edits in place.
func (w *HeadWriter) fields(h *head, e *Edits, host []byte, tunnel bool) {
	hop := h.flags&flagHopByHop != 0
	edited := e != nil && len(e.ops) > 0
	for i, f := range h.fields {
		lineEnd := h.end - 2
		if i+1 < len(h.fields) {
			lineEnd = int(h.fields[i+1].name.start)
		}
		if !hop && !edited && host == nil {
			w.orig(int(f.name.start), lineEnd)
			continue
		}
		name := f.name.of(h.buf)
		if hop && w.hopByHop(h, name, tunnel) {
			continue
		}
		if host != nil && isName(name, "host") {
			if !w.hostDone {
				w.field(name, host)
				w.hostDone = true
			}
			continue
		}
		if edited && w.applyEdits(e, name) {
			continue
		}
		w.orig(int(f.name.start), lineEnd)
	}
}

// applyEdits reports whether the field named name is replaced or dropped,
// writing the replacement at the first line of the name. The last Set or Del
// of a name decides its fate.
func (w *HeadWriter) applyEdits(e *Edits, name []byte) bool {
	for j := len(e.ops) - 1; j >= 0; j-- {
		op := &e.ops[j]
		if op.op == opAdd || !equalFoldBytes(name, op.name) {
			continue
		}
		if op.op == opSet && j < maxSetEdits && w.setDone&(1<<j) == 0 {
			w.setDone |= 1 << j
			w.field(op.name, op.value)
		}
		return true
	}
	return false
}

// hopByHop reports whether a field must not be forwarded.
func (w *HeadWriter) hopByHop(h *head, name []byte, tunnel bool) bool {
	switch len(name) {
	case 10:
		if isName(name, "connection") || isName(name, "keep-alive") {
			return true
		}
	case 16:
		if isName(name, "proxy-connection") {
			return true
		}
	case 2:
		if isName(name, "te") {
			return true
		}
	case 7:
		if isName(name, "trailer") {
			return true
		}
		if isName(name, "upgrade") {
			return !tunnel
		}
	}
	if h.flags&flagConnOther == 0 || isEndToEnd(name) {
		return false
	}
	// Fields named by Connection are hop-by-hop too (RFC 9110 §7.6.1).
	for _, f := range h.fields {
		if !isName(f.name.of(h.buf), "connection") {
			continue
		}
		v := f.value.of(h.buf)
		for el, rest := nextListElem(v); len(el) > 0; el, rest = nextListElem(rest) {
			if equalFoldBytes(el, name) {
				return true
			}
		}
	}
	return false
}

// isEndToEnd reports fields that a Connection option must never remove:
// dropping the framing fields or Host because a client listed them would
// hand the upstream a differently framed message (a smuggling trick), and
// RFC 9110 §7.6.1 forbids naming fields meant for all recipients anyway.
func isEndToEnd(name []byte) bool {
	return isName(name, "content-length") || isName(name, "transfer-encoding") || isName(name, "host")
}

// finish appends the fields the edits add, the tunnel's Connection line and
// the empty line.
func (w *HeadWriter) finish(end int, e *Edits, tunnel bool) [][]byte {
	if e != nil {
		for j := range e.ops {
			op := &e.ops[j]
			switch {
			case op.op == opAdd:
				w.field(op.name, op.value)
			case op.op == opSet && (j >= maxSetEdits || w.setDone&(1<<j) == 0):
				if !setLater(e, j) {
					w.field(op.name, op.value)
				}
			}
		}
	}
	if tunnel {
		w.lit(bConnUpgrade)
	}
	if w.inRun && int(w.run.end) == end-2 {
		w.orig(end-2, end)
	} else {
		w.lit(bCRLF)
	}
	w.flush()
	return w.iov
}

// setLater reports whether a later Set or Del of the same name overrides Set j.
func setLater(e *Edits, j int) bool {
	for k := j + 1; k < len(e.ops); k++ {
		if e.ops[k].op != opAdd && equalFoldBytes(e.ops[k].name, e.ops[j].name) {
			return true
		}
	}
	return false
}
