package route

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
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
// 32-bit count and, for each, flags (hostWildcard, hostWithPort), a 16-bit
// length and the lowercased name (a wildcard's suffix, ".example.com").
// A route without such predicates has no program at all.
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
	start := len(b)
	b = append(b, make([]byte, predHeader)...)
	setOff := func(field int) {
		binary.LittleEndian.PutUint32(b[start+field:], uint32(len(b)-start))
	}
	if len(hosts) > 0 {
		setOff(4)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(hosts)))
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
			b = append(b, fl)
			b = binary.LittleEndian.AppendUint16(b, uint16(len(hp.name)))
			b = append(b, hp.name...)
		}
	}
	if s.RemoteAddr != "" && len(s.RemoteAddrs) > 0 {
		return b, bad("remote_addr and remote_addrs are both set")
	}
	if len(addrs) > 0 {
		setOff(0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(addrs)))
		for _, a := range addrs {
			p, err := parseAddrOrPrefix(a)
			if err != nil {
				return b, bad("remote address %q: %v", a, err)
			}
			b = appendPrefix(b, p)
		}
	}
	if len(s.Vars) > 0 {
		pb := progBuf{ca: ca}
		if err := pb.compileVars(s.Vars); err != nil {
			return b, fmt.Errorf("%w: route %q: %v", ErrInvalidVars, s.ID, err)
		}
		// The program must start 8-aligned in memory: b's start is (the
		// scratch buffer, then the route's blob).
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
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
	p := e.blob[e.predOff:]
	if len(p) < predHeader {
		return accepted, 0 // cannot happen: compilePred wrote the header
	}
	if o := le32(p); o != 0 {
		if !req.RemoteAddr.IsValid() || !prefixesHave(p[o+4:], le32(p[o:]), req.RemoteAddr) {
			return rejRemoteAddr, 0
		}
	}
	if o := le32(p[4:]); o != 0 && !matchHosts(p[o:], req) {
		return rejHost, 0
	}
	if o := le32(p[8:]); o != 0 {
		if ok, c := evalTop(p[o:], &e.route.res, req, m); !ok {
			return rejVars, c
		}
	}
	return accepted, 0
}

// matchHosts reports whether req's host is one of the hosts section q.
func matchHosts(q []byte, req *Request) bool {
	count := le32(q)
	q = q[4:]
	for range count {
		fl, n := q[0], le16(q[1:])
		name := bytesView(q[3 : 3+n])
		q = q[3+n:]
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
	o := le32(p[4:])
	if o == 0 {
		return nil
	}
	q := p[o:]
	count := le32(q)
	q = q[4:]
	out := make([]string, 0, count)
	for range count {
		fl, n := q[0], le16(q[1:])
		h := string(q[3 : 3+n])
		if fl&hostWildcard != 0 {
			h = "*" + h
		}
		out = append(out, h)
		q = q[3+n:]
	}
	return out
}

// predAddrs lists the remote addresses of program p, for Explain.
func predAddrs(p []byte) []netip.Prefix {
	o := le32(p)
	if o == 0 {
		return nil
	}
	count := le32(p[o:])
	out := make([]netip.Prefix, count)
	for i := range out {
		out[i] = decodePrefix(p[o+4+i*prefixLen:])
	}
	return out
}
