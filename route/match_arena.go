package route

// compileArena is where routes compiled together put their blobs (entry):
// carved out of shared chunks in compile order, so that a bulk build of
// 100k routes makes a few thousand allocations for them instead of one
// per route, and neighbouring routes' blobs are neighbours in memory. It
// also holds the scratch space compiling reuses. A single-route update
// compiles with single set, which gives the blob an allocation of its
// own.
type compileArena struct {
	single bool
	blobs  []byte
	// scratch
	buf    []byte
	starts []int
	parts  []part
	ops    []vop
	pool   []byte
	// refs holds the variables parsed so far, by name
	refs map[string]varRef
}

const blobChunk = 16 << 10

// arenaMin is the fewest routes a build compiles with an arena: its
// chunks pay off for many routes, while a few (the Admin API checks a
// write by building its route alone) get a blob each.
const arenaMin = 64

// takeBlob returns n bytes for one route's blob, 8-aligned (a vars
// program in it is read in place as 32-bit words).
func (ca *compileArena) takeBlob(n int) []byte {
	r := (n + 7) &^ 7
	if ca.single || r > blobChunk/4 {
		return make([]byte, r)[:n:n]
	}
	b := ca.blobs
	if cap(b)-len(b) < r {
		b = make([]byte, 0, blobChunk)
	}
	ca.blobs = b[:len(b)+r]
	return b[len(b) : len(b)+n : len(b)+n]
}

// varRef parses a variable name, once per distinct name: vars spell the
// same few names out once per route.
func (ca *compileArena) varRef(name string) varRef {
	if ca == nil || ca.single {
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
