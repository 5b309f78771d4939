package core

import (
	"fmt"
	"time"
)

// KeepaliveDefaults is config.yaml's http.upstream_keepalive_pool: the
// keepalive_pool of an upstream that sets none (APISIX's defaults, from its
// nginx upstream block: 320 connections, 60 s, 1,000 requests).
type KeepaliveDefaults struct {
	Size        int     `yaml:"size"`
	IdleTimeout float64 `yaml:"idle_timeout"`
	Requests    int     `yaml:"requests"`
}

// KeepalivePolicy is how the L7 proxy keeps connections to an upstream's
// nodes between requests.
//
// Size bounds the idle connections each loop keeps to each node. APISIX's
// size is per nginx worker and per node (its pool is keyed by the node's
// address); a sluice loop is a worker, so the number is not divided: with N
// loops a node may see up to N×Size idle connections. Pools are keyed by
// node address, so upstreams that share a node share its pool; each
// connection is held to the policy of the upstream whose request it served
// last.
type KeepalivePolicy struct {
	Size int
	// Idle closes a pooled connection unused this long; 0: never (it stays
	// until the node closes it), as OpenResty's idle_timeout 0.
	Idle time.Duration
	// Requests closes a connection once it has served this many requests.
	Requests int
}

// compileUpstreamPolicy fills us's retry time budget and keep-alive policy
// from u, with config.yaml's defaults for what u leaves unset.
func compileUpstreamPolicy(cfg *Config, d *decoder, p string, u *Upstream, us *UpstreamSet) error {
	if u.RetryTimeout < 0 {
		return d.errf(p+".retry_timeout", nil, "must not be negative")
	}
	us.RetryTimeout = seconds(u.RetryTimeout)
	def := cfg.HTTP.UpstreamKeepalivePool
	k := KeepalivePolicy{Size: def.Size, Idle: seconds(def.IdleTimeout), Requests: def.Requests}
	if kp := u.Keepalive; kp != nil {
		if kp.Size != nil {
			if *kp.Size < 1 {
				return d.errf(p+".keepalive_pool.size", nil, "want at least 1, got %d", *kp.Size)
			}
			k.Size = *kp.Size
		}
		if kp.IdleTimeout != nil {
			if *kp.IdleTimeout < 0 {
				return d.errf(p+".keepalive_pool.idle_timeout", nil, "must not be negative (0: no idle timeout)")
			}
			k.Idle = seconds(*kp.IdleTimeout)
		}
		if kp.Requests != nil {
			if *kp.Requests < 1 {
				return d.errf(p+".keepalive_pool.requests", nil, "want at least 1, got %d", *kp.Requests)
			}
			k.Requests = *kp.Requests
		}
	}
	us.Keepalive = k
	return nil
}

// validateUpstreamPolicy checks config.yaml's defaults for upstreams and the
// resolver's settings.
func (c *Config) validateUpstreamPolicy(d *decoder) error {
	k := c.HTTP.UpstreamKeepalivePool
	switch {
	case k.Size < 1:
		return d.errf("http.upstream_keepalive_pool.size", nil, "want at least 1, got %d", k.Size)
	case k.IdleTimeout < 0:
		return d.errf("http.upstream_keepalive_pool.idle_timeout", nil, "must not be negative (0: no idle timeout)")
	case k.Requests < 1:
		return d.errf("http.upstream_keepalive_pool.requests", nil, "want at least 1, got %d", k.Requests)
	}
	for i, s := range c.DNSResolver {
		if _, err := parseNameserver(s); err != nil {
			return d.errf(fmt.Sprintf("dns_resolver[%d]", i), nil, "%q: %v", s, err)
		}
	}
	if c.DNSResolverValid < 0 {
		return d.errf("dns_resolver_valid", nil, "must not be negative (0: use the records' TTL)")
	}
	if c.ResolverTimeout <= 0 {
		return d.errf("resolver_timeout", nil, "want a positive number of seconds, got %v", c.ResolverTimeout)
	}
	return nil
}
