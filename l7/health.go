package l7

// Passive health checks: each attempt tells its upstream's checker (the
// upstream it was picked from: the route's, or one a plugin chose) what it
// learned about the node (nothing happens when the upstream has no passive
// checks, and a healthy node answering well takes no lock).

// healthStatus reports the final status the node answered with.
func (c *conn) healthStatus(status int) {
	if x := c.exchange; x != nil && x.node >= 0 && x.ups != nil {
		x.ups.Health().ReportStatus(x.node, status)
	}
}

// healthFailure reports a node that refused, reset, broke the exchange or
// (timeout) did not answer in time.
func (c *conn) healthFailure(timeout bool) {
	if x := c.exchange; x != nil && x.node >= 0 && x.ups != nil {
		x.ups.Health().ReportFailure(x.node, timeout)
	}
}
