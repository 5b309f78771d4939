// Package route owns request routing: a compact radix tree with APISIX's
// matching semantics, host/method/address/vars predicates, and
// copy-on-write updates published atomically.
//
// A Router holds the current Table. Build loads a whole configuration;
// Insert, Replace, Put and Delete change one route by copying only the tree
// nodes along its uris and publishing a new Table with one atomic store.
// Readers take the current Table with one atomic load and never lock.
//
// Table.Lookup takes a Request of views (method, path, host as byte
// slices, the remote address, and a Vars implementation for vars
// expressions) and a caller-owned Match, and allocates nothing: exact uris
// are found by a hash of the path, everything else by a walk that is one
// loop over the path with no recursion and no maps, and parameters are
// captured as views into the path.
//
// Matching follows lua-resty-radixtree as APISIX uses it. Candidates are
// the routes whose uri matches the path, tried in this order: an exact uri
// first; then the longer literal prefix (the bytes before the first ':'
// or '*'); then the higher priority; then the longer uri; then the route
// configured first. The first candidate whose method, remote address,
// host and vars all match wins. Table.Explain lists every candidate and
// why it lost. docs/route.md has the details and the deliberate
// differences from APISIX.
package route
