package plugin

import "net/netip"

// SetClient replaces the request's client address and port, as real-ip
// does: everything after it reads the new one — route vars' remote_addr
// and remote_port, ip-restriction, limit keys, loggers' client_ip. A zero
// port keeps the client's port.
func (c *Ctx) SetClient(a netip.Addr, port uint16) {
	if port == 0 {
		port = c.Remote.Port()
	}
	c.Remote = netip.AddrPortFrom(a, port)
	if c.Route == nil {
		return
	}
	c.Route.RemoteAddr = a
	if v, ok := c.Route.Vars.(*RequestVars); ok {
		v.Remote = c.Remote
	}
}
