package l7

import (
	"time"

	"github.com/sluice-gateway/sluice/core"
)

// retryExpired reports whether the upstream's retry_timeout has passed since
// the request's first attempt began: then no other node is tried (nginx's
// proxy_next_upstream_timeout, which APISIX's retry_timeout sets).
func (c *conn) retryExpired(u *core.UpstreamSet) bool {
	return u.RetryTimeout > 0 && time.Duration(c.loop.Timers().Ticks()-c.firstAt)*core.WheelTick >= u.RetryTimeout
}
