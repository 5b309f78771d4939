// Package prometheus is APISIX's prometheus plugin: per-request metrics of
// the routes it is enabled on, exported in the Prometheus text format on a
// listener of its own (plugin_attr.prometheus.export_addr, default
// 127.0.0.1:9091, at export_uri, default /apisix/prometheus/metrics).
//
// The metrics and labels are APISIX's:
//
//	apisix_http_status{code,route,matched_uri,matched_host,service,consumer,node}   counter
//	apisix_http_latency{type=request|upstream|apisix,route,service,consumer,node}  histogram, ms
//	apisix_bandwidth{type=ingress|egress,route,service,consumer,node}             counter, bytes
//	apisix_http_requests_total                                                    gauge
//	apisix_nginx_http_current_connections{state="active"}                         gauge
//	apisix_node_info{hostname}                                                    gauge
//
// and sluice's per-plugin cost accounting (plugin.Registry.Costs):
//
//	sluice_plugin_phase_calls_total{plugin,phase}    counter, sampled requests
//	sluice_plugin_phase_seconds_total{plugin,phase}  counter
//
// # Cost on the request path
//
// The log hook does not touch client_golang. Each event loop accumulates
// into its own series (one per route, service, consumer, node and matched
// uri/host), found through a small per-loop cache compared by identity and,
// on a miss, a per-loop map looked up by the label values; only that loop
// writes its counters (plain adds, counter_fast.go), so they never bounce
// between cores.
// A scrape sums the loops' series into const metrics (a custom
// prometheus.Collector). The hook allocates nothing once a series and its
// status class exist: the first request of a new label set allocates the
// series (624 bytes and its label strings), and the first status of a
// class (2xx, 4xx…) in a series allocates that class's 100 counters (800
// bytes).
// Series are kept for the life of the process, as APISIX's are by default
// (expire 0).
package prometheus

import (
	"time"

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
		New: func(b *plugin.Build, data []byte) (any, error) {
			var conf config
			if err := plugin.Decode(data, &conf); err != nil {
				return nil, err
			}
			e.setRegistry(b.Registry())
			return &instance{e: e, preferName: conf.PreferName}, nil
		},
	}
}

type config struct {
	PreferName bool `json:"prefer_name"`
}

type instance struct {
	e          *Exporter
	preferName bool
}

// Log counts the request in its loop's series.
func (p *instance) Log(c *plugin.Ctx) {
	now := c.End
	if now.IsZero() {
		now = time.Now()
	}
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
	s := p.e.loop(c.Loop).series(&k)

	s.count(c.Status)
	var total, up time.Duration
	if !c.Start.IsZero() {
		total = now.Sub(c.Start)
	}
	if !c.UpstreamStart.IsZero() {
		up = now.Sub(c.UpstreamStart)
		s.lat[latUpstream].observe(up)
	}
	s.lat[latRequest].observe(total)
	s.lat[latAPISIX].observe(total - up)
	if c.BytesIn > 0 {
		s.bw[bwIngress].add(uint64(c.BytesIn))
	}
	if c.BytesOut > 0 {
		s.bw[bwEgress].add(uint64(c.BytesOut))
	}
}

var _ plugin.Logger = (*instance)(nil)
