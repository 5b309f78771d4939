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
	e.target, e.host, e.reason = nil, nil, nil
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

// SetHost replaces the Host field's value, in place when there is one.
func (e *Edits) SetHost(host []byte) { e.host = host }

// SetStatus replaces a response's status code (100..999) and reason phrase.
func (e *Edits) SetStatus(code int, reason []byte) { e.status, e.reason = code, reason }
