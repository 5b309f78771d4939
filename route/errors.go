package route

import "errors"

// Sentinel errors. Every error a Router returns wraps one of these (test
// with errors.Is) and carries the offending route id and the reason.
var (
	// ErrInvalidRoute reports a route whose fields are malformed or
	// contradictory: no id, both uri and uris, an unknown method, a bad
	// address or CIDR.
	ErrInvalidRoute = errors.New("route: invalid route")

	// ErrInvalidURI reports a uri pattern the tree cannot represent: not
	// starting with '/', a parameter without a name, a catch-all that is not
	// the last segment, or a '*' inside a segment.
	ErrInvalidURI = errors.New("route: invalid uri pattern")

	// ErrInvalidVars reports a vars expression that does not compile: a bad
	// shape, an unknown operator, a regex RE2 rejects, a bad ipmatch list.
	ErrInvalidVars = errors.New("route: invalid vars expression")

	// ErrDuplicateID reports an insert or a bulk build that names an id
	// already present.
	ErrDuplicateID = errors.New("route: duplicate route id")

	// ErrNotFound reports a replace or delete of an id that is not present.
	ErrNotFound = errors.New("route: route not found")
)
