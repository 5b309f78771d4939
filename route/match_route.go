package route

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"unsafe"
)

// Spec is one route as the config plane hands it over, with APISIX v3
// route field names. Exactly one of URI and URIs is set; Host/Hosts and
// RemoteAddr/RemoteAddrs are likewise alternatives. Vars is the decoded
// JSON of APISIX's "vars" (a lua-resty-expr expression): []any holding
// strings, float64s, bools, nils and nested []any.
type Spec struct {
	ID          string
	URI         string
	URIs        []string
	Host        string
	Hosts       []string
	Methods     []string
	RemoteAddr  string
	RemoteAddrs []string
	Vars        []any
	Priority    int
	// Value is the caller's handle for the route (its compiled plugin
	// chain, its upstream); Lookup hands it back untouched.
	Value any
}

// Route is a compiled, immutable route. Lookup returns it; the fields
// below are read-only.
type Route struct {
	ID       string
	Priority int
	Value    any

	seq     uint64  // APISIX's tie-break: the route configured first wins
	entries []entry // one per uri, in the order configured
	methods uint16
	// The predicates other than methods are compiled into the entries'
	// blob (match_pred.go); res are the regexps its vars refer to.
	res []*regexp.Regexp
	// vars as configured, for Explain
	vars []any
}

// URIs returns the route's uri patterns as configured.
func (r *Route) URIs() []string {
	out := make([]string, len(r.entries))
	for i := range r.entries {
		out[i] = r.entries[i].raw()
	}
	return out
}

// methodNames is APISIX's method list; a route's methods are a bitmask over
// it, so the per-request test is one AND.
var methodNames = [...]string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "PURGE"}

// methodBit maps a request method to its bit; 0 for a method outside the
// list, which then matches only routes without methods. The switch on
// string(m) compiles to comparisons, not a conversion.
func methodBit(m []byte) uint16 {
	switch string(m) {
	case "GET":
		return 1 << 0
	case "POST":
		return 1 << 1
	case "PUT":
		return 1 << 2
	case "DELETE":
		return 1 << 3
	case "PATCH":
		return 1 << 4
	case "HEAD":
		return 1 << 5
	case "OPTIONS":
		return 1 << 6
	case "CONNECT":
		return 1 << 7
	case "TRACE":
		return 1 << 8
	case "PURGE":
		return 1 << 9
	}
	return 0
}

// hostPat is one host of a route, lowercased. A wildcard "*.example.com" is
// kept as its suffix ".example.com", as APISIX does, so "*.example.com"
// matches "a.b.example.com" but not "example.com".
type hostPat struct {
	name     string
	wildcard bool
	// withPort: APISIX compares a host containing ':' against the Host
	// header (http_host) instead of the port-less host.
	withPort bool
}

func compileHost(h string) (hostPat, error) {
	hp := hostPat{}
	s := h
	if strings.HasPrefix(s, "*") {
		hp.wildcard = true
		s = s[1:]
	}
	if s == "" {
		return hp, fmt.Errorf("empty host %q", h)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == ':' || c == '[' || c == ']'
		if !ok {
			return hp, fmt.Errorf("host %q: byte %q not allowed", h, c)
		}
	}
	hp.name = strings.ToLower(s)
	hp.withPort = strings.Contains(s, ":")
	return hp, nil
}

// equalFold compares ASCII case-insensitively: route hosts are stored
// lowercased, so only the request side needs folding, and no copy of the
// request host is made.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func parseAddrOrPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// uriCount is how many entries s needs, at most.
func (s *Spec) uriCount() int {
	if s.URI != "" {
		return 1
	}
	return len(s.URIs)
}

// compile checks a spec and builds the route. seq is assigned by the
// caller. Errors wrap ErrInvalidRoute, ErrInvalidURI or ErrInvalidVars.
func compile(s *Spec) (*Route, error) {
	r := &Route{}
	if err := compileInto(s, r, make([]entry, 0, s.uriCount()), nil); err != nil {
		return nil, err
	}
	return r, nil
}

// compileInto builds the route in r, its entries in the room of entries
// (which a bulk build carves out of one array for all routes) and their
// blob from ca (nil: a blob of its own).
func compileInto(s *Spec, r *Route, entries []entry, ca *compileArena) error {
	if s.ID == "" {
		return fmt.Errorf("%w: missing id", ErrInvalidRoute)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: route %q: %s", ErrInvalidRoute, s.ID, fmt.Sprintf(format, args...))
	}
	*r = Route{ID: s.ID, Priority: s.Priority, Value: s.Value, entries: entries}

	switch {
	case s.URI != "" && len(s.URIs) > 0:
		return bad("uri and uris are both set")
	case s.URI == "" && len(s.URIs) == 0:
		return bad("neither uri nor uris is set")
	}
	if ca == nil {
		ca = &compileArena{single: true}
	}
	// The blob is written in ca's scratch buffer, then copied where it
	// stays: its size is known only at the end.
	b := ca.buf[:0]
	starts := ca.starts[:0]
	addURI := func(u string) error {
		for i := range r.entries {
			if string(b[starts[i]:starts[i]+int(r.entries[i].rawLen)]) == u {
				return nil // a repeated uri would only make the route a candidate twice
			}
		}
		p, err := parsePattern(u, ca.parts)
		ca.parts = p.parts
		if err != nil {
			return fmt.Errorf("route %q: %w", s.ID, err)
		}
		if len(b)%2 != 0 {
			b = append(b, 0) // parts are 2-aligned (blobs are 8-aligned)
		}
		start := len(b)
		starts = append(starts, start)
		b = append(b, u...)
		for k := range p.parts {
			if pt := &p.parts[k]; pt.kind == partCatchAll && pt.n == 0 {
				// the name is not in the uri: entry.partText finds it here
				pt.off, pt.n = uint16(len(b)-start), uint16(len(":ext"))
				b = append(b, ":ext"...)
			}
		}
		b = pad(b, 2)
		at := len(b)
		b = append(b, make([]byte, partBytes*len(p.parts))...)
		copy(unsafe.Slice((*part)(unsafe.Pointer(unsafe.SliceData(b[at:]))), len(p.parts)), p.parts)
		e := entry{route: r, prio: r.Priority, keyLen: p.keyLen, rawLen: uint16(len(u)),
			uriIdx: uint16(len(r.entries)), nparts: uint16(len(p.parts)), partsPad: uint8(at - start - len(u))}
		if p.exact {
			e.flags |= efExact
		}
		if p.tail {
			e.flags |= efTail
		}
		if p.params {
			e.flags |= efParams
		}
		r.entries = append(r.entries, e)
		return nil
	}
	if s.URI != "" {
		if err := addURI(s.URI); err != nil {
			return err
		}
	} else {
		for _, u := range s.URIs {
			if err := addURI(u); err != nil {
				return err
			}
		}
	}
	ca.starts = starts

	for _, m := range s.Methods {
		bit := methodBit([]byte(m))
		if bit == 0 {
			return bad("unknown method %q (APISIX allows %s)", m, strings.Join(methodNames[:], ", "))
		}
		r.methods |= bit
	}

	b = pad(b, 4) // the predicate program is read in place (match_pred.go)
	predStart := len(b)
	var err error
	if b, err = compilePred(b, s, r, ca); err != nil {
		return err
	}
	hasPred := len(b) > predStart
	blob := ca.takeBlob(len(b))
	copy(blob, b)
	ca.buf = b
	for i := range r.entries {
		e := &r.entries[i]
		e.blob = blob[starts[i]:len(blob):len(blob)]
		e.methods = r.methods
		if hasPred {
			e.predOff = uint32(predStart - starts[i])
		} else if r.methods == 0 {
			e.flags |= efPlain
		}
	}
	return nil
}

// setSeq fixes the route's place in configuration order.
func (r *Route) setSeq(seq uint64) {
	r.seq = seq
	for i := range r.entries {
		r.entries[i].seq = seq
	}
}

// reject says which predicate turned a candidate down, in the order APISIX
// checks them.
type reject uint8

const (
	accepted reject = iota
	rejMethod
	rejRemoteAddr
	rejHost
	rejVars
)
