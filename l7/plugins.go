package l7

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
)

// Plugins is what the compile hook needs to build plugin chains: the
// node's registry, its config and loop count (for plugins that compile
// upstreams of their own).
type Plugins struct {
	Registry *plugin.Registry
	Config   *core.Config
	Loops    int
}

// pluginBuild compiles the snapshot-wide plugin parts: consumer groups,
// consumers and global rules. Nil when nothing in the snapshot configures
// a plugin, so routes without plugins cost nothing.
func (p *Plugins) build(snap *core.Snapshot) (*plugin.Build, error) {
	if p == nil || p.Registry == nil {
		if where := anyPlugins(snap); where != "" {
			return nil, fmt.Errorf("%s: plugins are not available on this server", where)
		}
		return nil, nil
	}
	b := p.Registry.NewBuild(snap.PluginMetadata)
	b.Config, b.Loops = p.Config, p.Loops
	b.Upstream = func(id string) *core.UpstreamSet { return snap.Upstreams[id] }
	ids := make([]string, 0, len(snap.ConsumerGroups))
	for id := range snap.ConsumerGroups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := b.AddGroup(id, snap.ConsumerGroups[id].Plugins); err != nil {
			return nil, err
		}
	}
	for _, c := range snap.Consumers {
		if err := b.AddConsumer(c.Username, c.GroupID, c.Labels, c.Plugins); err != nil {
			return nil, err
		}
	}
	var rules []plugin.Layer
	for _, g := range snap.GlobalRules {
		rules = append(rules, plugin.Layer{Owner: "global_rules/" + g.ID, Plugins: g.Plugins})
	}
	if err := b.SetGlobal(rules); err != nil {
		return nil, err
	}
	return b, nil
}

// anyPlugins names the first resource that configures a plugin.
func anyPlugins(snap *core.Snapshot) string {
	for i := range snap.Routes {
		if len(snap.Routes[i].Plugins) > 0 {
			return "routes/" + snap.Routes[i].ID
		}
	}
	for _, g := range snap.GlobalRules {
		if len(g.Plugins) > 0 {
			return "global_rules/" + g.ID
		}
	}
	for _, c := range snap.Consumers {
		if len(c.Plugins) > 0 {
			return "consumers/" + c.Username
		}
	}
	return ""
}

// routeChain compiles a route's chain from its service, plugin config and
// own plugins; nil when the route runs no plugin at all.
func routeChain(b *plugin.Build, snap *core.Snapshot, r *core.Route) (*plugin.Chain, error) {
	if b == nil {
		return nil, nil
	}
	var layers []plugin.Layer
	if s := snap.Services[r.ServiceID]; s != nil && len(s.Plugins) > 0 {
		layers = append(layers, plugin.Layer{Origin: plugin.OriginService, Owner: "services/" + s.ID, Plugins: s.Plugins})
	}
	if pc := snap.PluginConfigs[r.PluginConfigID]; pc != nil && len(pc.Plugins) > 0 {
		layers = append(layers, plugin.Layer{Origin: plugin.OriginPluginConfig, Owner: "plugin_configs/" + pc.ID, Plugins: pc.Plugins})
	}
	layers = append(layers, plugin.Layer{Origin: plugin.OriginRoute, Owner: "routes/" + r.ID, Plugins: r.Plugins})
	ch, err := b.Chain(layers...)
	if err != nil || ch.Empty() {
		return nil, err
	}
	return ch, nil
}

// startPlugins prepares the request's plugin context; the target has a
// chain.
func (c *conn) startPlugins() {
	pc := &c.pc
	pc.Reset(c.tgt.chain)
	pc.Req, pc.Route, pc.Match, pc.Edits = &c.req, &c.rreq, &c.match, &c.edits
	pc.Remote, pc.Local = c.remote, c.local
	pc.RouteID, pc.ServiceID = c.tgt.id, c.tgt.serviceID
	pc.RouteMeta = &c.tgt.meta
	pc.Loop = c.loop.ID
	c.ls.seq++
	pc.Sampled = c.ls.seq&63 == 0
	pc.Start = c.loop.Now()
	pc.BytesIn = int64(c.headLen)
	c.plugged, c.logged = true, false
}

// proceed runs the request phases and goes upstream, or answers a stop,
// or waits out a pause (and is called again by the timer).
func (c *conn) proceed() {
	if c.plugged {
		r := c.pc.Request()
		switch {
		case r.Delay > 0:
			c.state = stPause
			c.loop.Timers().Arm(&c.timer, r.Delay, c)
			return
		case r.Status != 0:
			c.stopWith(r)
			return
		}
		if c.pc.Upstream != nil {
			c.retarget(c.pc.Upstream)
		}
		c.pluginHost = c.edits.NewHost() != nil
		c.pc.UpstreamStart = c.loop.Now()
	}
	c.connectUpstream(nil)
}

// stopWith answers a request a plugin stopped: its status and body, the
// response edits the plugins made (header_filter runs on it too), and
// APISIX's JSON error body when the plugin gave none.
func (c *conn) stopWith(r plugin.Result) {
	pc := &c.pc
	pc.Status, pc.Resp = r.Status, nil
	pc.HeaderFilter()
	status := r.Status
	if st, _ := pc.RespEdits.Status(); st != 0 {
		status = st
	}
	body := r.Body
	if body == nil {
		body = errorBody(status)
	}
	if pc.HasBodyFilter() {
		body = pc.BodyFilter(body, true) // the whole body, in one piece
	}
	closeAfter := !c.reqBody.Done() || c.closeAfter
	b := c.resp[:0]
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\n"...)
	if !pc.RespEdits.Has(hdrContentType) {
		b = append(b, "Content-Type: "...)
		if len(body) > 0 && (body[0] == '{' || body[0] == '[') {
			b = append(b, "application/json"...)
		} else {
			b = append(b, "text/plain; charset=utf-8"...)
		}
		b = append(b, "\r\n"...)
	}
	pc.RespEdits.Del(hdrContentLength)
	pc.RespEdits.Del(hdrTransferEncoding)
	pc.RespEdits.Del(hdrConnection)
	b = pc.RespEdits.AppendFields(b)
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n"...)
	if closeAfter {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	if c.req.MethodID() != codec.MethodHead {
		b = append(b, body...)
	}
	c.resp = b
	c.answerBytes(b, closeAfter)
}

// errorBody is APISIX's {"error_msg": ...} for a status, made once per
// status and kept.
func errorBody(status int) []byte {
	if status > 0 && status < len(errorBodies) {
		if b := errorBodies[status]; b != nil {
			return b
		}
	}
	return []byte(`{"error_msg":"` + strconv.Itoa(status) + " " + http.StatusText(status) + `"}` + "\n")
}

var errorBodies = func() (bs [600][]byte) {
	for st := 100; st < 600; st++ {
		if t := http.StatusText(st); t != "" {
			bs[st] = []byte(`{"error_msg":"` + strconv.Itoa(st) + " " + t + `"}` + "\n")
		}
	}
	return
}()

// logPlugins runs the log phase once per request, however it ended.
func (c *conn) logPlugins() {
	if !c.plugged || c.logged {
		return
	}
	c.logged = true
	pc := &c.pc
	if pc.Status == 0 {
		pc.Status = 499 // the exchange ended with no answer: nginx's "client closed"
		if c.state != stDone {
			pc.Status = 502
		}
	}
	pc.End = c.loop.Now()
	pc.Log()
}

// filterHead runs header_filter on the upstream's response head and
// returns the edits to write it with (nil when none). A chain with body
// filters gets the body re-framed as chunks (or until close for an
// HTTP/1.0 client), since its length is no longer known.
func (c *conn) filterHead(resp *codec.Response) *codec.Edits {
	pc := &c.pc
	pc.Resp, pc.Status = resp, resp.Status()
	pc.UpstreamDone = c.loop.Now()
	if c.req.MethodID() != codec.MethodHead && c.sentMethod() == codec.MethodHead {
		// A request a plugin turned into a HEAD: the client asked for a
		// body and gets an empty one, not the length a GET would have had.
		pc.RespEdits.Del(hdrTransferEncoding)
		pc.RespEdits.Set(hdrContentLength, valZero)
	}
	pc.HeaderFilter()
	c.bodyFilter = pc.HasBodyFilter() && resp.Framing().Kind != codec.BodyNone
	if c.bodyFilter {
		pc.RespEdits.Del(hdrContentLength)
		if c.req.ProtoMinor() >= 1 {
			pc.RespEdits.Set(hdrTransferEncoding, valChunked)
		} else {
			pc.RespEdits.Del(hdrTransferEncoding)
			c.closeAfter = true
		}
	}
	return &pc.RespEdits
}

// filterBody passes the decoded body in u.in through the body filters and
// queues what they return, framed for the client. It consumes what it
// read; false means a framing error (answered).
func (u *upConn) filterBody() bool {
	c := u.c
	pc := &c.pc
	fb := c.fbuf[:0]
	for u.start < u.end && !u.body.Done() {
		n, data, err := u.body.Next(u.in[u.start:u.end])
		if err != nil && err != codec.ErrNeedMore {
			core.WarnOnce("l7-badbody-"+u.node.String(), "l7: upstream %s: bad response body framing: %v", u.node, err)
			u.failed(&resp502, false)
			return false
		}
		u.start += n
		if len(data) > 0 || u.body.Done() {
			fb = c.frame(fb, pc.BodyFilter(data, u.body.Done()), u.body.Done())
		}
		if n == 0 {
			break
		}
	}
	if u.body.Done() && len(fb) == 0 && !c.bodyEnded {
		fb = c.frame(fb, pc.BodyFilter(nil, true), true)
	}
	c.fbuf = fb
	if len(fb) > 0 {
		c.queue(fb)
	}
	return true
}

// frame appends out as a chunk (and the last chunk when last) for an
// HTTP/1.1 client, or as it is for one that reads until close.
func (c *conn) frame(dst, out []byte, last bool) []byte {
	chunked := c.req.ProtoMinor() >= 1
	if len(out) > 0 {
		if chunked {
			dst = strconv.AppendInt(dst, int64(len(out)), 16)
			dst = append(dst, "\r\n"...)
		}
		dst = append(dst, out...)
		if chunked {
			dst = append(dst, "\r\n"...)
		}
	}
	if last && !c.bodyEnded {
		c.bodyEnded = true
		if chunked {
			dst = append(dst, "0\r\n\r\n"...)
		}
	}
	return dst
}

var (
	hdrContentType      = []byte("Content-Type")
	hdrContentLength    = []byte("Content-Length")
	hdrTransferEncoding = []byte("Transfer-Encoding")
	valChunked          = []byte("chunked")
	valZero             = []byte("0")
)
