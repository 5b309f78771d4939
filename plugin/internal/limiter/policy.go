package limiter

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// CheckPolicy refuses what the limit plugins cannot do yet: counters
// shared through Redis (policy redis, redis-cluster or redis-sentinel, and
// any redis_*, sentinel_* or key_ttl setting, which the schemas let
// through so that this names them). A Go Redis client is not among
// sluice's dependencies.
func CheckPolicy(conf []byte) error {
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(conf, &fields)
	if raw, ok := fields["policy"]; ok {
		var policy string
		_ = json.Unmarshal(raw, &policy)
		if policy != "local" {
			return fmt.Errorf("policy %q is not supported yet: sluice counts on the node itself (policy \"local\")", policy)
		}
	}
	var redis []string
	for k := range fields {
		if strings.HasPrefix(k, "redis_") || strings.HasPrefix(k, "sentinel_") || k == "key_ttl" {
			redis = append(redis, k)
		}
	}
	if len(redis) > 0 {
		sort.Strings(redis)
		return fmt.Errorf("%s: Redis settings are not supported yet (policy is \"local\")", strings.Join(redis, ", "))
	}
	return nil
}
