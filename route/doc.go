// Package route owns request routing: a compact radix tree with APISIX's
// matching semantics, host/method/address/vars predicates, and copy-on-write
// updates published atomically.
package route
