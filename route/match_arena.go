package route

import "net/netip"

// compileArena hands out the small pieces of compiled routes (pattern
// parts, vars expressions and their operand lists, hosts, addresses)
// from shared arrays. A bulk build of 100k routes then makes a few hundred
// allocations for them instead of several hundred thousand, and leaves
// the garbage collector a few long arrays to scan instead of as many small
// objects. A nil *compileArena allocates each piece on its own, for
// single-route updates.
type compileArena struct {
	parts []part
	exprs []expr
	auxes []exprAux
	ops   []operand
	nets  []netip.Prefix
	hosts []hostPat
	// refs holds the variables parsed so far, by name
	refs map[string]varRef
}

const arenaChunk = 1024

// arenaMin is the fewest routes a build compiles with an arena.
const arenaMin = 64

// take returns an empty slice with room for exactly n elements, carved out
// of *buf.
func take[T any](buf *[]T, n int) []T {
	b := *buf
	if cap(b)-len(b) < n {
		b = make([]T, 0, max(arenaChunk, n))
	}
	*buf = b[:len(b)+n]
	return b[len(b) : len(b) : len(b)+n]
}

func (ca *compileArena) takeParts(n int) []part {
	if ca == nil {
		return make([]part, 0, n)
	}
	return take(&ca.parts, n)
}

func (ca *compileArena) takeExprs(n int) []expr {
	if ca == nil {
		return make([]expr, 0, n)
	}
	return take(&ca.exprs, n)
}

func (ca *compileArena) newExpr(e expr) *expr {
	if ca == nil {
		p := new(expr) // not &e: that would move e to the heap on every path
		*p = e
		return p
	}
	s := append(take(&ca.exprs, 1), e)
	return &s[0]
}

func (ca *compileArena) newAux(a exprAux) *exprAux {
	if ca == nil {
		p := new(exprAux)
		*p = a
		return p
	}
	s := append(take(&ca.auxes, 1), a)
	return &s[0]
}

func (ca *compileArena) takeOps(n int) []operand {
	if ca == nil {
		return make([]operand, 0, n)
	}
	return take(&ca.ops, n)
}

func (ca *compileArena) takeNets(n int) []netip.Prefix {
	if ca == nil {
		return make([]netip.Prefix, 0, n)
	}
	return take(&ca.nets, n)
}

func (ca *compileArena) takeHosts(n int) []hostPat {
	if ca == nil {
		return make([]hostPat, 0, n)
	}
	return take(&ca.hosts, n)
}

// varRef parses a variable name, once per distinct name: vars spell the
// same few names out once per route.
func (ca *compileArena) varRef(name string) varRef {
	if ca == nil {
		return parseVarRef(name)
	}
	if v, ok := ca.refs[name]; ok {
		return v
	}
	if ca.refs == nil {
		ca.refs = map[string]varRef{}
	}
	v := parseVarRef(name)
	ca.refs[name] = v
	return v
}
