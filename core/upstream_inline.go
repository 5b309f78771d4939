package core

import (
	"errors"
	"fmt"
	"strings"
)

// CompileUpstream compiles an upstream that is not a resource of its own,
// such as a plugin's inline upstream (traffic-split), exactly as the
// snapshot compiles upstreams. where names it in errors ("routes/1:
// plugins.traffic-split.rules[0].weighted_upstreams[1].upstream"); cfg nil
// means config.yaml's defaults. Decode one with DecodeItem(KindUpstreams,
// ...).
func CompileUpstream(cfg *Config, u *Upstream, where string, loops int) (*UpstreamSet, error) {
	if cfg == nil {
		cfg = defaultConfig()
	}
	d := &decoder{lines: map[string]int{}}
	us, err := compileUpstream(cfg, d, where, u, max(loops, 1))
	var ce *ConfigError
	if errors.As(err, &ce) {
		return nil, fmt.Errorf("%s: %s", ce.Key, ce.Reason)
	}
	if err != nil {
		return nil, err
	}
	// Host names are resolved, and kept current, for the snapshot's own
	// upstreams (core/dns.go); one outside them would never get addresses.
	if len(us.spec.names) > 0 {
		return nil, fmt.Errorf("%s.nodes: host names (%s) are resolved only for upstream resources: use addresses, or an upstream by id", where, strings.Join(us.spec.names, ", "))
	}
	return us, nil
}
