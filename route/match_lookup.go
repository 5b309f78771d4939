package route

import (
	"encoding/binary"
	"net/netip"
	"strings"
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
	n   *node
	pos int
}

// collect gathers every entry whose pattern matches path into m.cands.
//
// The static walk is one pass down the tree. At a node with a parameter
// child, the alternative "this segment is the parameter" is pushed and
// tried after the static walk ends, so the cost is the path length times
// the number of parameter positions on the way, never the number of
// routes.
func (t *Table) collect(path []byte, m *Match) {
	m.cands = m.cands[:0]
	m.stack = m.stack[:0]
	n, i := t.root, 0
	for {
	walk:
		for {
			if x := n.ext; x != nil {
				// One append per entry: append(s, list...) of pointers goes
				// through typedslicecopy, which costs more than the lists
				// here are long.
				//lint:ignore S1011 one append per entry is cheaper here (see above)
				for _, e := range x.tail {
					m.cands = append(m.cands, e)
				}
				if i == len(path) {
					//lint:ignore S1011 as above
					for _, e := range x.exact {
						m.cands = append(m.cands, e)
					}
					break walk
				}
				if x.wild != nil {
					j := i
					for j < len(path) && path[j] != '/' {
						j++
					}
					if j > i {
						m.stack = append(m.stack, frame{x.wild, j})
					}
				}
			} else if i == len(path) {
				break walk
			}
			var k int
			if nc := len(n.children); nc <= maxPacked {
				k = findPacked(n.idx[0], path[i])
				if k == 8 && nc > 8 {
					k = 8 + findPacked(n.idx[1], path[i])
				}
				if k >= nc {
					break walk
				}
			} else if k = strings.IndexByte(n.ext.wide, path[i]); k < 0 {
				break walk
			}
			n = &n.children[k]
			seg := n.seg
			if len(path)-i < len(seg) {
				break walk
			}
			// Compare the label a word at a time against head; only a
			// label longer than 8 bytes reads its own bytes.
			if len(path)-i >= 8 {
				w := binary.LittleEndian.Uint64(path[i:])
				if len(seg) < 8 {
					w &= 1<<(8*len(seg)) - 1
				}
				if w != n.head || len(seg) > 8 && string(path[i+8:i+len(seg)]) != seg[8:] {
					break walk
				}
			} else {
				for j := 1; j < len(seg); j++ {
					if path[i+j] != seg[j] {
						break walk
					}
				}
			}
			i += len(seg)
		}
		if len(m.stack) == 0 {
			return
		}
		f := m.stack[len(m.stack)-1]
		m.stack = m.stack[:len(m.stack)-1]
		n, i = f.n, f.pos
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
	if t.exact != nil {
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
		if !e.plain {
			if why, _ := e.route.check(req, m); why != accepted {
				continue
			}
		}
		m.Route = e.route
		if e.pat.params {
			m.Params = e.pat.capture(req.Path, m.Params)
		}
		return e.route
	}
	return nil
}

// lookupExact tries the routes whose uri is exactly the path, which
// outrank all others. A nil result means none of them passed, and the
// walk decides (it meets them again, and they fail again).
func (t *Table) lookupExact(req *Request, m *Match) *Route {
	m.cands = m.cands[:0]
	for _, e := range t.exact.lookup(req.Path) {
		if e.pat.raw == string(req.Path) {
			m.cands = append(m.cands, e)
		}
	}
	cs := m.cands
	if len(cs) > 1 {
		sortCands(cs)
	}
	for _, e := range cs {
		if !e.plain {
			if why, _ := e.route.check(req, m); why != accepted {
				continue
			}
		}
		m.Route = e.route
		return e.route
	}
	return nil
}
