package route

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"unsafe"
)

// A route's predicates other than its methods (which the entries hold as
// a bitmask) are compiled into one run of bytes at the end of its blob,
// right after its uris, so that checking a candidate reads memory next to
// what the lookup has just read:
//
//	[0:4]  offset of the remote addresses, or 0
//	[4:8]  offset of the hosts, or 0
//	[8:12] offset of the vars program (vars_prog.go), or 0
//
// Offsets count from the start of the program. Remote addresses are a
// 32-bit count and that many prefixes (prefixLen bytes each); hosts a
// 32-bit count and, for each, flags (hostWildcard, hostWithPort), a zero
// byte, a 16-bit length and the lowercased name (a wildcard's suffix,
// ".example.com"), padded to an even length. A route without such
// predicates has no program at all.
//
// Integers are in the machine's byte order and aligned to their size (the
// program starts 4-aligned, the blob 8-aligned), so that checking reads
// them in place, without decoding and without bounds checks: the program
// is immutable and was written by compilePred, which is what makes the
// unchecked reads (blobAt) safe.
const (
	predHeader   = 12
	hostWildcard = 1 << 0
	hostWithPort = 1 << 1
)

// compilePred appends s's predicate program to b, or nothing when s has
// none. Regexps of its vars go to r.res.
func compilePred(b []byte, s *Spec, r *Route, ca *compileArena) ([]byte, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: route %q: %s", ErrInvalidRoute, s.ID, fmt.Sprintf(format, args...))
	}
	hosts := s.Hosts
	if s.Host != "" {
		if len(s.Hosts) > 0 {
			return b, bad("host and hosts are both set")
		}
		hosts = []string{s.Host}
	}
	addrs := s.RemoteAddrs
	if s.RemoteAddr != "" {
		addrs = []string{s.RemoteAddr}
	}
	if len(hosts) == 0 && len(addrs) == 0 && len(s.Vars) == 0 {
		return b, nil
	}
	start := len(b) // 4-aligned by the caller
	b = append(b, make([]byte, predHeader)...)
	setOff := func(field int) {
		b = pad(b, 4)
		binary.NativeEndian.PutUint32(b[start+field:], uint32(len(b)-start))
	}
	if len(hosts) > 0 {
		setOff(4)
		b = binary.NativeEndian.AppendUint32(b, uint32(len(hosts)))
		for _, h := range hosts {
			hp, err := compileHost(h)
			if err != nil {
				return b, bad("%v", err)
			}
			if len(hp.name) > math.MaxUint16 {
				return b, bad("host %q longer than %d bytes", h, math.MaxUint16)
			}
			var fl byte
			if hp.wildcard {
				fl |= hostWildcard
			}
			if hp.withPort {
				fl |= hostWithPort
			}
			b = append(b, fl, 0)
			b = binary.NativeEndian.AppendUint16(b, uint16(len(hp.name)))
			b = pad(append(b, hp.name...), 2)
		}
	}
	if s.RemoteAddr != "" && len(s.RemoteAddrs) > 0 {
		return b, bad("remote_addr and remote_addrs are both set")
	}
	if len(addrs) > 0 {
		setOff(0)
		b = binary.NativeEndian.AppendUint32(b, uint32(len(addrs)))
		for _, a := range addrs {
			p, err := parseAddrOrPrefix(a)
			if err != nil {
				return b, bad("remote address %q: %v", a, err)
			}
			b = appendPrefix(b, p)
		}
	}
	if len(s.Vars) > 0 {
		pb := progBuf{ops: ca.ops[:0], pool: ca.pool[:0], ca: ca}
		defer func() { ca.ops, ca.pool = pb.ops, pb.pool }() // scratch for the next route
		if err := pb.compileVars(s.Vars); err != nil {
			return b, fmt.Errorf("%w: route %q: %v", ErrInvalidVars, s.ID, err)
		}
		// The program must start 8-aligned in memory: b's start is (the
		// scratch buffer, then the route's blob).
		b = pad(b, 8)
		setOff(8)
		b, r.res, r.vars = pb.finish(b), pb.res, s.Vars
		if len(b)-start > math.MaxUint32 {
			return b, bad("vars too large")
		}
	}
	return b, nil
}

// check runs the candidate's predicates against req, APISIX's order:
// method, remote address, host, vars. For a vars rejection clause is the
// 1-based top-level clause that failed (0 when the expression is not a
// list of clauses).
func (e *entry) check(req *Request, m *Match) (why reject, clause int) {
	if e.methods != 0 && e.methods&methodBit(req.Method) == 0 {
		return rejMethod, 0
	}
	if e.predOff == 0 {
		return accepted, 0
	}
	p := blobAt(e.blob, e.predOff)
	hdr := (*[3]uint32)(p)
	if o := hdr[0]; o != 0 {
		if !req.RemoteAddr.IsValid() || !prefixesHave(unsafe.Add(p, o+4), *(*uint32)(unsafe.Add(p, o)), req.RemoteAddr) {
			return rejRemoteAddr, 0
		}
	}
	if o := hdr[1]; o != 0 && !matchHosts(unsafe.Add(p, o), req) {
		return rejHost, 0
	}
	if o := hdr[2]; o != 0 {
		if ok, c := evalTop(unsafe.Add(p, o), &e.route.res, req, m); !ok {
			return rejVars, c
		}
	}
	return accepted, 0
}

// blobAt returns a pointer to byte off of b, checked once, for the
// unchecked reads of a program in it.
func blobAt(b []byte, off uint32) unsafe.Pointer { return unsafe.Pointer(&b[off]) }

// pad appends zeros to b up to a multiple of n.
func pad(b []byte, n int) []byte {
	for len(b)%n != 0 {
		b = append(b, 0)
	}
	return b
}

// matchHosts reports whether req's host is one of the hosts section at q.
func matchHosts(q unsafe.Pointer, req *Request) bool {
	count := *(*uint32)(q)
	off := 4 // of the next host: a pointer past the last one would leave the blob
	for range count {
		h := unsafe.Add(q, off)
		fl, n := *(*uint8)(h), int(*(*uint16)(unsafe.Add(h, 2)))
		name := unsafe.String((*byte)(unsafe.Add(h, 4)), n)
		off += 4 + (n+1)&^1
		host := req.Host
		if fl&hostWithPort != 0 && req.Vars != nil {
			if v, ok := req.Vars.Var(VarHeader, "host"); ok {
				host = v
			}
		}
		if fl&hostWildcard == 0 {
			if equalFold(host, name) {
				return true
			}
		} else if len(host) >= n && equalFold(host[len(host)-n:], name) {
			return true
		}
	}
	return false
}

// predHosts lists the hosts of program p as configured (lowercased), for
// Explain.
func predHosts(p []byte) []string {
	o := int(binary.NativeEndian.Uint32(p[4:]))
	if o == 0 {
		return nil
	}
	q := p[o:]
	count := int(binary.NativeEndian.Uint32(q))
	q = q[4:]
	out := make([]string, 0, count)
	for range count {
		fl, n := q[0], int(binary.NativeEndian.Uint16(q[2:]))
		h := string(q[4 : 4+n])
		if fl&hostWildcard != 0 {
			h = "*" + h
		}
		out = append(out, h)
		q = q[4+(n+1)&^1:]
	}
	return out
}

// predAddrs lists the remote addresses of program p, for Explain.
func predAddrs(p []byte) []netip.Prefix {
	o := int(binary.NativeEndian.Uint32(p))
	if o == 0 {
		return nil
	}
	count := int(binary.NativeEndian.Uint32(p[o:]))
	out := make([]netip.Prefix, count)
	for i := range out {
		out[i] = decodePrefix(p[o+4+i*prefixLen:])
	}
	return out
}
