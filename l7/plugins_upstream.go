package l7

import (
	"unsafe"

	"github.com/sluice-gateway/sluice/core"
)

// retarget sends the request to us, an upstream a plugin chose
// (traffic-split): with its own pass_host and upstream_host, and its own
// timeouts unless the route sets some (APISIX's balancer prefers the
// route's timeout over any upstream's). The route's target is shared and
// stays as it is; the request goes on with a copy in the conn.
func (c *conn) retarget(us *core.UpstreamSet) {
	c.ups = us
	if us == c.tgt.up {
		return
	}
	c.over = *c.tgt
	c.over.useUpstream(us)
	c.tgt = &c.over
}

// useUpstream resolves what the target takes from its upstream: the
// timeouts (the route's over the upstream's) and how Host is sent. It
// does not allocate: upstream_host's bytes are a view of the upstream's
// string, which never changes.
func (t *target) useUpstream(up *core.UpstreamSet) {
	t.to = resolveTimeouts(t.rto, up.Timeout)
	t.passHost, t.host = passHostPass, nil
	switch up.PassHost {
	case "node":
		t.passHost = passHostNode
	case "rewrite":
		t.passHost, t.host = passHostRewrite, unsafe.Slice(unsafe.StringData(up.UpstreamHost), len(up.UpstreamHost))
	}
}
