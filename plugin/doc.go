// Package plugin owns the plugin API: phases, the per-request context,
// results, the registry and chain compilation with APISIX's merge rules.
//
// A plugin is a package plugin/<name> that exports a Def: name, priority,
// JSON Schema and a constructor whose instance implements only the phase
// interfaces it uses. cmd/sluice registers the built-ins explicitly
// (NewRegistry); config.yaml's `plugins` list says which this node enables.
//
// The phases of an HTTP request, each running its hooks by priority
// (highest first), global rules' hooks before the route's:
//
//	request head parsed, route matched
//	  │
//	  ├─ rewrite        global rules' rewrite and access, then the route's
//	  │                 rewrite; authentication plugins set Ctx.Consumer here
//	  ├─ (consumer)     a consumer with plugins of its own: its chain is
//	  │                 merged in (Consumer > Consumer Group > Route >
//	  │                 Plugin Config > Service) and its rewrite hooks run
//	  ├─ access         may stop the request with a status and body
//	  ├─ before_proxy   may set Ctx.Upstream; then the balancer picks a node
//	  │      ··· upstream exchange ···
//	  ├─ header_filter  response head: Ctx.Status, Ctx.RespEdits
//	  ├─ body_filter    response body, decoded, chunk by chunk
//	  └─ log            after the answer, however the exchange ended
//
//	stream (L4) connection: preread ─► upstream ─► log
//
// A hook returns Continue or Stop(status, body); a stop skips the rest of
// the request phases, and header_filter and log still run on the answer.
// Which hooks a chain has, their order and their merged configs are
// decided when the config snapshot is built: dispatch walks pre-sorted
// slices, with no lookups, type switches or allocations.
//
// Per-request state lives in typed slots (State), reset for each request
// and reused across requests of a connection; state that must outlive a
// config snapshot (a limit's counters) is kept with Build.Keep.
package plugin
