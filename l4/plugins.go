package l4

import (
	"net/netip"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/route"
)

// CompilePlugins returns the compile hook that builds each stream route's
// plugin chain (preread and log hooks: ip-restriction, limit-conn) into
// its target. With a nil registry, a stream route with plugins is refused.
func CompilePlugins(reg *plugin.Registry) func(*core.Snapshot) error {
	return func(snap *core.Snapshot) error {
		var b *plugin.Build
		for _, t := range snap.StreamTargets() {
			var layers []plugin.Layer
			if s := snap.Services[t.ServiceID]; s != nil && len(s.Plugins) > 0 {
				layers = append(layers, plugin.Layer{Origin: plugin.OriginService, Owner: "services/" + s.ID, Plugins: s.Plugins})
			}
			if len(t.Plugins) > 0 {
				layers = append(layers, plugin.Layer{Origin: plugin.OriginRoute, Owner: "stream_routes/" + t.ID, Plugins: t.Plugins})
			}
			if len(layers) == 0 {
				continue
			}
			if reg == nil {
				return &core.ConfigError{Key: "stream_routes/" + t.ID + ".plugins", Reason: "plugins are not available on this server"}
			}
			if b == nil {
				b = reg.NewBuild(snap.PluginMetadata)
			}
			var merged map[string]any
			for _, l := range layers {
				if merged == nil {
					merged = map[string]any{}
				}
				for k, v := range l.Plugins {
					merged[k] = v // the stream route's own config wins over its service's
				}
			}
			ch, err := b.StreamChain(plugin.Layer{Origin: plugin.OriginRoute, Owner: "stream_routes/" + t.ID, Plugins: merged})
			if err != nil {
				return err
			}
			if !ch.Empty() {
				t.Compiled = ch
			}
		}
		return nil
	}
}

// streamCtx is a stream's plugin state: the context and what its
// variables read (only the addresses exist for a stream).
type streamCtx struct {
	pc    plugin.Ctx
	rreq  route.Request
	match route.Match
}

// preread runs a new stream's preread hooks; false means a plugin refused
// it (the caller closes the client).
func (ss *session) preread(ch *plugin.Chain, local, remote netip.AddrPort, routeID string) bool {
	sc := &streamCtx{}
	ss.plug = sc
	pc := &sc.pc
	pc.Reset(ch)
	sc.rreq.RemoteAddr = remote.Addr()
	pc.Route, pc.Match = &sc.rreq, &sc.match
	pc.Remote, pc.Local, pc.RouteID, pc.Loop = remote, local, routeID, ss.loop.ID
	res := pc.Preread()
	pc.Status = res.Status // a refusal's status, for the log hooks
	return !res.Stopped()
}

// ended tells the log hooks how the stream went (prometheus's stream
// metrics): 200 for a clean close, 502 for a relay error or no upstream
// (the side at fault is not known); the node and the bytes each way.
func (ss *session) ended(r *core.Relay, err error) {
	if ss.plug == nil {
		return
	}
	pc := &ss.plug.pc
	pc.Status = 200
	if err != nil || r == nil {
		pc.Status = 502
	}
	if ss.node >= 0 && ss.node < len(ss.nodes.Addrs) {
		pc.Node = ss.nodes.Addrs[ss.node]
	}
	if r != nil {
		pc.BytesIn, pc.BytesOut = r.BytesUp(), r.BytesDown()
	}
	ss.logPlugins()
}

// logPlugins runs the log hooks once, when the stream ends.
func (ss *session) logPlugins() {
	if ss.plug != nil {
		ss.plug.pc.Log()
		ss.plug = nil
	}
}
