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

// resp503 answers a request whose upstream has no address: its node names
// have not resolved yet (APISIX: 503, "no valid upstream node").
var resp503 = canned(503, "Service Unavailable", "503 Service Unavailable: no valid upstream node")

// noAddress fails the request of an upstream without any address.
func (c *conn) noAddress() {
	core.WarnOnce("l7-noaddr-"+c.tgt.id, "l7: route %s: its upstream has no address yet (a node name has not resolved); answering 503 until it has", c.tgt.id)
	c.fail(&resp503)
}
