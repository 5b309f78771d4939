// Package peers is the machinery behind `make bench-peers` (bench/cmd/peers):
// child processes pinned to a CPU and killed as a group, the configuration
// files of each proxy under test (sluice, nginx, HAProxy, Caddy), the two Go
// comparators (a gnet-engine proxy and a standard-library io.Copy proxy), the
// Go upstreams the memory tests need, the parsers for the output of iperf3,
// redis-benchmark and wrk, and the median/ratio tables.
//
// Everything listens on 127.0.0.1 only, and every loop here is bounded in
// count and in time.
package peers
