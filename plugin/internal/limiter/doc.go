// Package limiter holds what the limit plugins (limit-count, limit-req,
// limit-conn) and the plugins that resolve APISIX variable templates
// (api-breaker, fault-injection) share: the key a limit counts by, a
// template of $variables, a sharded table of per-key counters, and
// APISIX's {"error_msg": ...} body.
//
// The table is built for the request path: a lookup of a key seen before
// takes one shard's read lock (no request waits for another while no key
// is being added), allocates nothing, and the caller updates its entry
// with atomics. Entries that hold nothing a fresh entry would not (a
// window long past, a drained bucket, no open connection) are swept from
// a shard when a new key is added to it, at most once per sweep interval:
// no goroutine, no timer per key.
package limiter
