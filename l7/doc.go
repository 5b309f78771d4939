// Package l7 owns the HTTP pipeline: the server over any transport, the
// reverse proxy, upgrade tunnels and the Admin API.
package l7
