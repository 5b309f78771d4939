package limiter

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// CheckPolicy refuses what the limit plugins cannot do yet: counters
// shared through Redis (policy redis or redis-cluster, and any redis_*
// setting, which the schemas let through so that this names them).
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
		if strings.HasPrefix(k, "redis_") {
			redis = append(redis, k)
		}
	}
	if len(redis) > 0 {
		sort.Strings(redis)
		return fmt.Errorf("%s: Redis settings are not supported yet (policy is \"local\")", strings.Join(redis, ", "))
	}
	return nil
}
