// Package plugin owns the plugin API: phases, the per-request context,
// results, the registry and chain compilation with APISIX's merge rules.
package plugin
