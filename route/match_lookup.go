package route

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"

	"github.com/tidwall/gjson"
)

// noCopy lets go vet's copylocks check flag copies of structs holding
// views whose lifetime the owner controls.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// Request is what Lookup matches: views of the parsed request. The slices
// are only read during Lookup and Explain (and, for Path, for as long as
// Match.Params is used), so they may point into the connection's read
// buffer.
type Request struct {
	_ noCopy

	Method []byte // "GET"
	// Path is the request path without the query string, as APISIX's
	// $uri: what the caller routes on after its own normalisation.
	Path []byte
	// Host is the Host header (or :authority) without its port. Matching
	// is ASCII case-insensitive.
	Host       []byte
	RemoteAddr netip.Addr
	// Vars serves the variables of vars expressions and post_arg; nil
	// makes every such variable absent.
	Vars Vars
}

// Param is one captured parameter. Value is a view into Request.Path.
type Param struct {
	Key   string
	Value []byte
}

// Match is caller-owned storage for one lookup: the result, the captured
// parameters and the scratch space that keeps Lookup from allocating. Keep
// one per connection or per worker and reuse it; it is not safe for
// concurrent use.
type Match struct {
	_ noCopy

	// Route is the winner of the last Lookup, or nil.
	Route *Route
	// Params holds the winner's captures, valid while Request.Path is.
	Params []Param

	cands []*entry
	stack []frame
	buf   []byte
	jv    gjson.Result // the JSON body value a vars clause reads
}

// Param returns the value captured for name by the last Lookup.
func (m *Match) Param(name string) ([]byte, bool) {
	for i := range m.Params {
		if m.Params[i].Key == name {
			return m.Params[i].Value, true
		}
	}
	return nil, false
}

// frame is a parameter branch the walk has yet to try: the wild child of
// a node, entered at pos, after the segment it stands for.
type frame struct {
	n   uint32
	pos int
}

// collect gathers every entry whose pattern matches path into m.cands.
//
// The static walk is one pass down the tree. At a node with a parameter
// child, the alternative "this segment is the parameter" is pushed and
// tried after the static walk ends, so the cost is the path length times
// the number of parameter positions on the way, never the number of
// routes. A node with a jump table skips a run of branching nodes in one
// lookup (tree_jump.go).
func (t *Table) collect(path []byte, m *Match) {
	m.cands = m.cands[:0]
	m.stack = m.stack[:0]
	nodes, words, lists := t.a.nodes, t.a.words, t.a.lists
	n, i := &nodes[t.root], 0
	for {
	walk:
		for {
			var next uint32
			if n.tail|n.wild|n.aux != 0 || i == len(path) {
				// One append per entry: append(s, list...) of pointers goes
				// through typedslicecopy, which costs more than the lists
				// here are long.
				for p := n.tail; lists[p] != nil; p++ {
					m.cands = append(m.cands, lists[p])
				}
				if i == len(path) {
					for p := n.exact; lists[p] != nil; p++ {
						m.cands = append(m.cands, lists[p])
					}
					break walk
				}
				if n.wild != 0 {
					j := i
					for j < len(path) && path[j] != '/' {
						j++
					}
					if j > i {
						m.stack = append(m.stack, frame{n.wild, j})
					}
				}
				if n.aux != 0 {
					meta := words[n.aux+auxMeta]
					if s := int(meta & 0xff); s != 0 && len(path)-i >= s {
						// hget, by hand: this is the walk's hottest call
						key := lowBytes(loadWord(path[i:]), s)
						h := mixKey(key)
						c := phash{ref: words[n.aux+auxJump], bits: meta >> 8}.chunkOf(words, h)
						if c == 0 {
							break walk
						}
						lo, hi := uint32(key), uint32(key>>32)
						sl := uint32(h) & (chunkSlots - 1)
						for range chunkSlots {
							o := c + sl*slotWords
							v := words[o+2]
							if v == 0 {
								break walk
							}
							if words[o] == lo && words[o+1] == hi {
								next = v & jumpIdxMask
								i += int(v >> jumpIdxBits)
								break
							}
							sl = (sl + 1) & (chunkSlots - 1)
						}
						if next == 0 {
							break walk
						}
					} else if n.nkids > maxPacked {
						k := uint32(t.a.text[words[n.aux+auxWide]+uint32(path[i])])
						if k >= uint32(n.nkids) {
							break walk
						}
						next = words[n.kids+k]
					}
				}
			}
			if next == 0 {
				nk := int(n.nkids)
				if nk > maxPacked {
					break walk // a wide node's child is found through aux above
				}
				k := findPacked(n.idx[0], path[i])
				if k == 8 && nk > 8 {
					k = 8 + findPacked(n.idx[1], path[i])
				}
				if k >= nk {
					break walk
				}
				next = words[n.kids+uint32(k)]
			}
			n = &nodes[next]
			// Compare the label a word at a time against head; only a
			// label longer than 16 bytes reads text.
			l := int(n.segLen)
			if len(path)-i < l {
				break walk
			}
			if l <= 8 && len(path)-i >= 8 {
				if lowBytes(binary.LittleEndian.Uint64(path[i:]), l) != n.head[0] {
					break walk
				}
			} else if !n.labelMatches(path[i:], t.a.text) {
				break walk
			}
			i += l
		}
		if len(m.stack) == 0 {
			return
		}
		f := m.stack[len(m.stack)-1]
		m.stack = m.stack[:len(m.stack)-1]
		n, i = &nodes[f.n], f.pos
	}
}

// sortCands orders candidates by APISIX's precedence. There are a handful
// at most in practice, so insertion sort beats anything cleverer.
func sortCands(cs []*entry) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].before(cs[j-1]); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// Lookup finds the route for req, fills m and returns the route (nil when
// none matches). It does not allocate once m has grown to the largest
// request it has seen, and it never locks: t is immutable.
func (t *Table) Lookup(req *Request, m *Match) *Route {
	m.Route = nil
	m.Params = m.Params[:0]
	if t.exact.ref != 0 {
		if rt := t.lookupExact(req, m); rt != nil {
			return rt
		}
	}
	t.collect(req.Path, m)
	cs := m.cands
	if len(cs) > 1 {
		sortCands(cs)
	}
	for _, e := range cs {
		if e.flags&efPlain == 0 {
			if why, _ := e.check(req, m); why != accepted {
				continue
			}
		}
		m.Route = e.route
		if e.flags&efParams != 0 {
			m.Params = e.capture(req.Path, m.Params)
		}
		return e.route
	}
	return nil
}

// lookupExact tries the routes whose uri is exactly the path, which
// outrank all others. A nil result means none of them passed, and the
// walk decides (it meets them again, and they fail again).
func (t *Table) lookupExact(req *Request, m *Match) *Route {
	off := hget(t.a.words, t.exact, maphash.Bytes(exactSeed, req.Path))
	if off == 0 {
		return nil
	}
	lists := t.a.lists
	// One list holds the routes of one uri; a hash collision shows as a
	// list of another uri.
	if lists[off].raw() != string(req.Path) {
		return nil
	}
	m.cands = m.cands[:0]
	for p := off; lists[p] != nil; p++ {
		m.cands = append(m.cands, lists[p])
	}
	cs := m.cands
	if len(cs) > 1 {
		sortCands(cs)
	}
	for _, e := range cs {
		if e.flags&efPlain == 0 {
			if why, _ := e.check(req, m); why != accepted {
				continue
			}
		}
		m.Route = e.route
		return e.route
	}
	return nil
}
