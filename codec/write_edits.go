package codec

// Edit operations.
const (
	opSet uint8 = iota
	opAdd
	opDel
)

type edit struct {
	op          uint8
	name, value []byte
}

// Edits is what a proxy changes in a head before forwarding it: fields set,
// added or deleted, a new request-target or Host, a new status. The writer
// keeps every other byte of the original head. Edits holds the caller's
// slices, not copies: they must stay unchanged until the iovecs built from
// them have been written. Reuse one per connection; Reset keeps its storage.
type Edits struct {
	_      noCopy
	ops    []edit
	target []byte
	method []byte
	host   []byte
	reason []byte
	status int
	// Tunnel keeps an Upgrade request's (or a 101 response's) Upgrade field
	// and sends "Connection: upgrade" with it, for a proxy that will tunnel
	// the connection. Otherwise Upgrade is dropped like any hop-by-hop field.
	// h2c is dropped regardless.
	Tunnel bool
}

// Reset empties the edit list.
func (e *Edits) Reset() {
	e.ops = e.ops[:0]
	e.target, e.host, e.reason, e.method = nil, nil, nil, nil
	e.status = 0
	e.Tunnel = false
}

// Set replaces the field named name (case-insensitive): its first line keeps
// its place with the new value, later lines are dropped; without one, the
// field is added at the end. For one name, the last Set or Del wins; Adds
// are independent of both.
func (e *Edits) Set(name, value []byte) { e.ops = append(e.ops, edit{opSet, name, value}) }

// Add appends a field line, keeping any already there.
func (e *Edits) Add(name, value []byte) { e.ops = append(e.ops, edit{opAdd, name, value}) }

// Del drops every line of the named field.
func (e *Edits) Del(name []byte) { e.ops = append(e.ops, edit{opDel, name, nil}) }

// SetTarget replaces the request-target (say, a rewritten path with its
// query). The writer sends it as given.
func (e *Edits) SetTarget(target []byte) { e.target = target }

// NewTarget is the request-target SetTarget put in e (nil when none).
func (e *Edits) NewTarget() []byte { return e.target }

// SetMethod replaces the request method (a proxy-rewrite).
func (e *Edits) SetMethod(method []byte) { e.method = method }

// NewMethod is the method SetMethod put in e (nil when none).
func (e *Edits) NewMethod() []byte { return e.method }

// SetHost replaces the Host field's value, in place when there is one.
func (e *Edits) SetHost(host []byte) { e.host = host }

// SetStatus replaces a response's status code (100..999) and reason phrase.
func (e *Edits) SetStatus(code int, reason []byte) { e.status, e.reason = code, reason }

// AppendFields appends the fields that Set and Add put in e, as header
// lines ("Name: value\r\n"), to dst: for a head written from scratch (an
// answer the proxy makes itself), where there is no original to edit. A
// name set several times is written once, with its last value; Del and
// the target, Host and status edits are ignored.
func (e *Edits) AppendFields(dst []byte) []byte {
	for i, op := range e.ops {
		if op.op == opDel {
			continue
		}
		if op.op == opSet && e.setLater(i) {
			continue
		}
		dst = append(dst, op.name...)
		dst = append(dst, ':', ' ')
		dst = append(dst, op.value...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}

// setLater reports whether a Set or Del after ops[i] names the same field.
func (e *Edits) setLater(i int) bool {
	for _, later := range e.ops[i+1:] {
		if later.op != opAdd && equalFoldBytes(later.name, e.ops[i].name) {
			return true
		}
	}
	return false
}

// Status returns the status SetStatus put in e (0 when none) and its
// reason phrase.
func (e *Edits) Status() (int, []byte) { return e.status, e.reason }

// Has reports whether e sets or adds the named field (and no later Del
// drops it).
func (e *Edits) Has(name []byte) bool {
	for i := len(e.ops) - 1; i >= 0; i-- {
		if equalFoldBytes(e.ops[i].name, name) {
			return e.ops[i].op != opDel
		}
	}
	return false
}

// NewHost is the Host value SetHost put in e (nil when none).
func (e *Edits) NewHost() []byte { return e.host }
