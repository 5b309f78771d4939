// Package prometheus is APISIX's prometheus plugin: per-request metrics of
// the routes (and stream routes) it is enabled on, exported in the
// Prometheus text format on a listener of its own
// (plugin_attr.prometheus.export_addr, default 127.0.0.1:9091, at
// export_uri, default /apisix/prometheus/metrics).
//
// The metrics and labels are APISIX's, named with plugin_attr's
// metric_prefix (default apisix_):
//
//	apisix_http_status{code,route,matched_uri,matched_host,service,consumer,node,<extra>}   counter
//	apisix_http_latency{type=request|upstream|apisix,route,service,consumer,node,<extra>}  histogram, ms
//	apisix_bandwidth{type=ingress|egress,route,service,consumer,node,<extra>}             counter, bytes
//	apisix_http_requests_total                                                            gauge
//	apisix_nginx_http_current_connections{state="active"}                                 gauge
//	apisix_node_info{hostname}                                                            gauge
//	apisix_stream_connection_total{route}                                                 counter
//	apisix_stream_active_connections{listen_addr}                                         gauge
//	apisix_stream_status{code,listen_addr,node}                                           counter
//	apisix_stream_bandwidth{listen_addr,type,side}                                        counter, bytes
//
// <extra> are plugin_attr's metrics.<metric>.extra_labels; the metadata's
// disabled_labels export chosen labels as "". Then sluice's per-plugin
// cost accounting (plugin.Registry.Costs):
//
//	sluice_plugin_phase_calls_total{plugin,phase}    counter, sampled requests
//	sluice_plugin_phase_seconds_total{plugin,phase}  counter
//
// # Cost on the request path
//
// The log hook does not touch client_golang. Each event loop accumulates
// into its own series (one per route, service, consumer, node, matched
// uri/host and extra label values), found through a small per-loop cache
// compared by identity (without extra labels) and, on a miss, a per-loop
// map looked up by the label values; only that loop writes its counters
// (plain adds, counter_fast.go), so they never bounce between cores.
// A scrape sums the loops' series into const metrics (a custom
// prometheus.Collector). The hook allocates nothing once a series and its
// status class exist: the first request of a new label set allocates the
// series (about 1 KB and its label strings), and the first status of a
// class (2xx, 4xx…) in a series allocates that class's 100 counters (800
// bytes). Extra labels reading request variables add an access hook that
// copies their values into request scratch (the log phase may find the
// request head overwritten by a streamed body).
// Series are kept for the life of the process, as APISIX's are by default
// (expire 0).
package prometheus

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
)

// Def registers the plugin, reporting to Default.
var Def = NewDef(Default)

// NewDef is the plugin reporting to e (tests use an exporter of their own).
func NewDef(e *Exporter) plugin.Def {
	return plugin.Def{
		Name:     "prometheus",
		Priority: 500,
		Schema: `{
			"type": "object",
			"properties": {"prefer_name": {"type": "boolean", "default": false}},
			"additionalProperties": false
		}`,
		MetadataSchema: metadataSchema,
		New: func(b *plugin.Build, data []byte) (any, error) {
			var conf config
			if err := plugin.Decode(data, &conf); err != nil {
				return nil, err
			}
			var src *core.PrometheusAttr
			if b.Config != nil {
				src = &b.Config.PluginAttr.Prometheus
			}
			if err := e.Configure(src); err != nil {
				return nil, err
			}
			md, err := b.Metadata("prometheus")
			if err != nil {
				return nil, fmt.Errorf("plugin_metadata: %w", err)
			}
			if err := e.setDisabled(md); err != nil {
				return nil, fmt.Errorf("plugin_metadata: %w", err)
			}
			e.setRegistry(b.Registry())
			p := &instance{e: e, a: e.attrs(), preferName: conf.PreferName}
			if p.a.early {
				return &earlyInstance{p}, nil
			}
			return p, nil
		},
	}
}

// The metadata is APISIX's, less the LLM and AI cache metrics sluice does
// not have, and less the labels it does not give (request_type,
// llm_model...): each of those is an error naming it.
const metadataSchema = `{
	"type": "object",
	"properties": {
		"disabled_labels": {
			"type": "object",
			"properties": {
				"http_status": {"type": "array", "uniqueItems": true,
					"items": {"enum": ["route", "matched_uri", "matched_host", "service", "consumer", "node"]}},
				"http_latency": {"type": "array", "uniqueItems": true,
					"items": {"enum": ["route", "service", "consumer", "node"]}},
				"bandwidth": {"type": "array", "uniqueItems": true,
					"items": {"enum": ["route", "service", "consumer", "node"]}}
			},
			"additionalProperties": false
		}
	},
	"additionalProperties": false
}`

type config struct {
	PreferName bool `json:"prefer_name"`
}

type instance struct {
	e          *Exporter
	a          *attr
	preferName bool
}

// earlyVals are the extra labels' request variables, read in access.
type earlyVals struct {
	read bool
	v    [maxExtra][]byte
}

// earlyInstance is an instance whose extra labels read request
// variables: it reads them in access, while the request head is whole.
type earlyInstance struct{ *instance }

// Access copies the request variables of the extra labels.
func (p *earlyInstance) Access(c *plugin.Ctx) plugin.Result {
	ev := plugin.State[earlyVals](c)
	ev.read = true
	for i := range p.a.vars {
		x := &p.a.vars[i]
		if x.kind != evRequest {
			continue
		}
		if v, ok := c.Get(&x.v); ok {
			ev.v[i] = c.Keep(v)
		}
	}
	return plugin.Continue
}

// Log counts the request (or stream) in its loop's series.
func (p *instance) Log(c *plugin.Ctx) {
	if c.Req == nil {
		p.logStream(c)
		return
	}
	now := c.End
	if now.IsZero() {
		now = time.Now()
	}
	a := p.a
	var k seriesKey
	k.route, k.service = c.RouteID, c.ServiceID
	if m := c.RouteMeta; m != nil {
		k.uri, k.host = m.URI, m.Host
		if p.preferName {
			if m.Name != "" {
				k.route = m.Name
			}
			if m.ServiceName != "" {
				k.service = m.ServiceName
			}
		}
	}
	if c.Consumer != nil {
		k.consumer = c.Consumer.Username
	}
	k.node = c.Node.Addr()
	l := p.e.loop(c.Loop)
	if len(a.vars) > 0 {
		p.extra(c, l, &k)
	}
	s := l.series(&k, a)

	s.count(c.Status)
	var total, up time.Duration
	if !c.Start.IsZero() {
		total = now.Sub(c.Start)
	}
	if !c.UpstreamStart.IsZero() {
		up = now.Sub(c.UpstreamStart)
		s.lat[latUpstream].observe(up, a.bucketNS)
	}
	s.lat[latRequest].observe(total, a.bucketNS)
	s.lat[latAPISIX].observe(total-up, a.bucketNS)
	if c.BytesIn > 0 {
		s.bw[bwIngress].add(uint64(c.BytesIn))
	}
	if c.BytesOut > 0 {
		s.bw[bwEgress].add(uint64(c.BytesOut))
	}
}

// extra reads the extra labels' values into k, as views: of the request's
// scratch, of the loop's, or of the config snapshot. An absent variable
// is "", as in APISIX.
func (p *instance) extra(c *plugin.Ctx, l *loopSeries, k *seriesKey) {
	var ev *earlyVals
	if p.a.early {
		ev = plugin.State[earlyVals](c)
	}
	for i := range p.a.vars {
		x := &p.a.vars[i]
		var v []byte
		switch x.kind {
		case evUpstreamAddr:
			if c.Node.IsValid() {
				v = c.Node.AppendTo(l.buf[:0])
			}
		case evRouteName:
			if c.RouteMeta != nil {
				k.extra[i] = c.RouteMeta.Name
			}
			continue
		case evServiceName:
			if c.RouteMeta != nil {
				k.extra[i] = c.RouteMeta.ServiceName
			}
			continue
		case evRequest:
			if ev != nil && ev.read {
				v = ev.v[i]
				break
			}
			// Access did not run (a plugin answered before it): the
			// request's body has not streamed, its head is whole.
			fallthrough
		default:
			v, _ = c.Get(&x.v)
			v = c.Keep(v)
		}
		k.extra[i] = unsafe.String(unsafe.SliceData(v), len(v))
	}
}

// logStream counts a stream (L4) session: started in preread, ended here
// with its status, node and bytes.
func (p *instance) logStream(c *plugin.Ctx) {
	l := p.e.loop(c.Loop)
	s := l.stream(streamKey{route: c.RouteID, listen: c.Local, node: c.Node})
	s.ended.add(1)
	i := 3 // 500: any other status
	for j, code := range streamCodes {
		if code == c.Status {
			i = j
		}
	}
	s.codes[i].add(1)
	if c.BytesIn > 0 {
		s.bytes[0].add(uint64(c.BytesIn))
	}
	if c.BytesOut > 0 {
		s.bytes[1].add(uint64(c.BytesOut))
	}
}

// Preread counts a stream session in.
func (p *instance) Preread(c *plugin.Ctx) plugin.Result {
	p.e.loop(c.Loop).stream(streamKey{route: c.RouteID, listen: c.Local}).started.add(1)
	return plugin.Continue
}

var (
	_ plugin.Logger    = (*instance)(nil)
	_ plugin.Prereader = (*instance)(nil)
	_ plugin.Accessor  = (*earlyInstance)(nil)
)
