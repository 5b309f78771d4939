package core

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Ring sizes: each node gets ringPoints virtual nodes per unit of weight
// (weights divided by their gcd first), fewer when the ring would pass
// maxRing points. A node's share of keys then varies by about
// 1/√points around its weight's share, which bounds how many keys move
// when one node comes or goes.
const (
	ringPoints = 320
	maxRing    = 1 << 20
)

// ring is a consistent-hash ring: sorted point hashes, the node of each,
// and a bucket index by the hash's top bits so that a lookup scans a
// couple of points instead of searching them all.
type ring struct {
	hash  []uint32
	node  []int32
	index []uint32 // index[b]: first point whose hash>>shift >= b; len = buckets+1
	shift uint
}

func buildRing(nodes []int32, weights []int32, addrs []netip.AddrPort) ring {
	var g, sum int64
	for _, n := range nodes {
		g = gcd(g, int64(weights[n]))
	}
	for _, n := range nodes {
		sum += int64(weights[n]) / g
	}
	per := int64(ringPoints)
	if sum*per > maxRing {
		per = max(1, maxRing/sum)
	}
	total := int(sum * per)
	bases := make([]uint64, len(nodes))
	var buf [64]byte
	for i, n := range nodes {
		bases[i] = fnv64(addrs[n].AppendTo(buf[:0]))
	}
	// Points are uniform hashes: a counting sort by the top bits (the
	// buckets of the lookup index) and an insertion sort of each bucket's
	// few points is linear, where a comparison sort took most of a build.
	// The points are generated twice (count, then place) rather than kept.
	bits := uint(1)
	for 1<<bits < total/2 && bits < 24 {
		bits++
	}
	shift := 32 - bits
	points := func(f func(h uint32, n int32)) {
		for i, n := range nodes {
			for j := range int64(weights[n]) / g * per {
				f(uint32(mix64(bases[i]+uint64(j)*0x9e3779b97f4a7c15)>>32), n)
			}
		}
	}
	index := make([]uint32, 1<<bits+1)
	points(func(h uint32, _ int32) { index[h>>shift+1]++ })
	for b := 1; b < len(index); b++ {
		index[b] += index[b-1]
	}
	r := ring{hash: make([]uint32, total), node: make([]int32, total), index: index, shift: shift}
	fill := slices.Clone(index[:1<<bits])
	points(func(h uint32, n int32) {
		b := h >> shift
		r.hash[fill[b]], r.node[fill[b]] = h, n
		fill[b]++
	})
	// Equal hashes (two nodes' points colliding) are ordered by address, so
	// the ring does not depend on the order nodes are listed in.
	less := func(i, j int) bool {
		if r.hash[i] != r.hash[j] {
			return r.hash[i] < r.hash[j]
		}
		return addrs[r.node[i]].Compare(addrs[r.node[j]]) < 0
	}
	for b := range 1 << bits {
		lo, hi := int(index[b]), int(index[b+1])
		for i := lo + 1; i < hi; i++ {
			for j := i; j > lo && less(j, j-1); j-- {
				r.hash[j], r.hash[j-1] = r.hash[j-1], r.hash[j]
				r.node[j], r.node[j-1] = r.node[j-1], r.node[j]
			}
		}
	}
	return r
}

// pick returns the node owning hash h: the first point at or after h,
// walking on past points of excluded nodes.
func (r *ring) pick(h uint32, e *exclusion) int {
	b := h >> r.shift
	i, end := int(r.index[b]), int(r.index[b+1])
	for i < end && r.hash[i] < h {
		i++
	}
	if i == len(r.hash) {
		i = 0
	}
	n := r.node[i]
	if !e.has(n) {
		return int(n)
	}
	for range len(r.hash) - 1 {
		if i++; i == len(r.hash) {
			i = 0
		}
		if n := r.node[i]; !e.has(n) {
			return int(n)
		}
	}
	return -1
}

// fnv64 is FNV-1a: stable across builds and processes, unlike maphash.
func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// mix64 is splitmix64's finalizer: every input bit moves every output bit,
// which FNV alone does not do for short keys.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func hashKey(key []byte) uint32 { return uint32(mix64(fnv64(key)) >> 32) }

// HashSource is where one part of a chash key comes from.
type HashSource uint8

const (
	HashLiteral     HashSource = iota // Name itself (vars_combinations text)
	HashRemoteAddr                    // client IP
	HashRemotePort                    // client port
	HashServerAddr                    // local IP the request arrived on
	HashServerPort                    // local port
	HashURI                           // request path, without the query
	HashRequestURI                    // request target as sent
	HashQueryString                   // query, without '?'
	HashHost                          // host, without port
	HashMethod                        // request method
	HashArg                           // query argument Name (first, undecoded)
	HashHeader                        // header Name
	HashCookie                        // cookie Name
)

// HashPart is one part of a chash key.
type HashPart struct {
	Src  HashSource
	Name string
}

// HashKey is a compiled chash key: its parts are concatenated. When the
// result is empty (the header, cookie or variable is absent) the client
// address is the key, as in APISIX.
type HashKey struct {
	Parts []HashPart
}

// hashVars are the variable names a key may use, besides arg_*, http_* and
// cookie_*.
var hashVars = map[string]HashSource{
	"remote_addr": HashRemoteAddr, "remote_port": HashRemotePort,
	"server_addr": HashServerAddr, "server_port": HashServerPort,
	"uri": HashURI, "request_uri": HashRequestURI, "query_string": HashQueryString,
	"host": HashHost, "request_method": HashMethod,
}

// ParseHashKey compiles hash_on and key. hashOn "" is "vars".
func ParseHashKey(hashOn, key string) (*HashKey, error) {
	switch hashOn {
	case "", "vars":
		p, err := hashVar(key)
		if err != nil {
			return nil, err
		}
		return &HashKey{Parts: []HashPart{p}}, nil
	case "header":
		if !validToken(key) {
			return nil, fmt.Errorf("want a header name, got %q", key)
		}
		return &HashKey{Parts: []HashPart{{Src: HashHeader, Name: key}}}, nil
	case "cookie":
		if key == "" || strings.ContainsAny(key, "=; \t") {
			return nil, fmt.Errorf("want a cookie name, got %q", key)
		}
		return &HashKey{Parts: []HashPart{{Src: HashCookie, Name: key}}}, nil
	case "vars_combinations":
		return parseCombination(key)
	case "consumer":
		return nil, fmt.Errorf("hash_on consumer is not supported yet (consumers are not); use vars, header, cookie or vars_combinations")
	}
	return nil, fmt.Errorf("want vars, header, cookie, consumer or vars_combinations, got %q", hashOn)
}

func hashVar(name string) (HashPart, error) {
	if s, ok := hashVars[name]; ok {
		return HashPart{Src: s}, nil
	}
	for _, p := range []struct {
		prefix string
		src    HashSource
	}{{"arg_", HashArg}, {"http_", HashHeader}, {"cookie_", HashCookie}} {
		if rest, ok := strings.CutPrefix(name, p.prefix); ok && rest != "" {
			if p.src == HashHeader {
				rest = strings.ReplaceAll(rest, "_", "-")
			}
			return HashPart{Src: p.src, Name: rest}, nil
		}
	}
	if name == "" {
		return HashPart{}, fmt.Errorf("chash needs a key")
	}
	return HashPart{}, fmt.Errorf("unknown variable %q (want remote_addr, remote_port, server_addr, server_port, uri, request_uri, query_string, host, request_method, arg_*, http_* or cookie_*)", name)
}

// parseCombination reads text with $name or ${name} variables in it; `\$`
// is a literal dollar sign.
func parseCombination(s string) (*HashKey, error) {
	k := &HashKey{}
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			k.Parts = append(k.Parts, HashPart{Src: HashLiteral, Name: string(lit)})
			lit = lit[:0]
		}
	}
	vars := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] == '$' {
			lit = append(lit, '$')
			i++
			continue
		}
		if c != '$' {
			lit = append(lit, c)
			continue
		}
		var name string
		if i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unclosed ${ at offset %d", i)
			}
			name, i = s[i+2:i+2+end], i+2+end
		} else {
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			name, i = s[i+1:j], j-1
		}
		p, err := hashVar(name)
		if err != nil {
			return nil, err
		}
		flush()
		k.Parts = append(k.Parts, p)
		vars++
	}
	flush()
	if vars == 0 {
		return nil, fmt.Errorf("want at least one $variable in %q", s)
	}
	return k, nil
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}
