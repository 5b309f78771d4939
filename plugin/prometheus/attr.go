package prometheus

import (
	"reflect"
	"slices"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
)

// The metrics that take extra labels (and disabled_labels), by index.
const (
	mStatus = iota
	mLatency
	mBandwidth
	nMetric
)

var metricNames = [nMetric]string{"http_status", "http_latency", "bandwidth"}

// maxExtra bounds the distinct variables extra labels read.
const maxExtra = 8

// attr is an exporter's node-wide settings (plugin_attr.prometheus),
// fixed when the exporter is configured: the metrics' names, the latency
// buckets and the extra labels.
type attr struct {
	src       *core.PrometheusAttr
	bucketsMS []float64
	bucketNS  []time.Duration
	// vars are the distinct variables of the extra labels, as read into
	// seriesKey.extra; labels are each metric's extra labels, as indexes
	// into vars; names their names.
	vars   []extraVar
	labels [nMetric][]int
	names  [nMetric][]string
	// early: some variable is read in access, before the request body
	// may overwrite the head it reads.
	early bool

	descStatus, descLatency, descBandwidth, descRequests, descConns, descNode *prom.Desc
	descStreamConns, descStreamActive, descStreamStatus, descStreamBandwidth  *prom.Desc
}

// extraVar is a variable an extra label reads: one of the log phase's own,
// or a request variable (read in access).
type extraVar struct {
	name string
	kind uint8
	v    plugin.Var
}

const (
	evRequest uint8 = iota // read in access, from the request
	evCtx                  // status, consumer_name...: from the context, in log
	evUpstreamAddr
	evRouteName
	evServiceName
)

// APISIX's DEFAULT_BUCKETS for apisix_http_latency, in milliseconds.
var defaultBucketsMS = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000}

func newAttr(src *core.PrometheusAttr) *attr {
	a := &attr{src: src, bucketsMS: defaultBucketsMS}
	prefix := "apisix_"
	if src != nil {
		if src.MetricPrefix != "" {
			prefix = src.MetricPrefix
		}
		if len(src.DefaultBuckets) > 0 {
			a.bucketsMS = src.DefaultBuckets
		}
		for m, name := range metricNames {
			for _, l := range src.Metrics[name].Labels() {
				i := slices.IndexFunc(a.vars, func(v extraVar) bool { return v.name == l.Var })
				if i < 0 {
					i = len(a.vars)
					a.vars = append(a.vars, newExtraVar(l.Var))
				}
				a.labels[m] = append(a.labels[m], i)
				a.names[m] = append(a.names[m], l.Name)
			}
		}
	}
	if len(a.vars) > maxExtra {
		a.vars = a.vars[:maxExtra] // Configure refuses this; never reached
	}
	for _, v := range a.vars {
		a.early = a.early || v.kind == evRequest
	}
	a.bucketNS = make([]time.Duration, len(a.bucketsMS))
	for i, ms := range a.bucketsMS {
		a.bucketNS[i] = time.Duration(ms * float64(time.Millisecond))
	}
	d := func(name, help string, labels []string, extra []string) *prom.Desc {
		return prom.NewDesc(prefix+name, help, append(slices.Clone(labels), extra...), nil)
	}
	b := core.PrometheusBuiltinLabels
	a.descStatus = d("http_status", "HTTP status codes per service in APISIX", b["http_status"], a.names[mStatus])
	a.descLatency = d("http_latency", "HTTP request latency in milliseconds per service in APISIX", b["http_latency"], a.names[mLatency])
	a.descBandwidth = d("bandwidth", "Total bandwidth in bytes consumed per service in APISIX", b["bandwidth"], a.names[mBandwidth])
	a.descRequests = d("http_requests_total", "The total number of client requests since APISIX started", nil, nil)
	a.descConns = d("nginx_http_current_connections", "Number of HTTP connections", []string{"state"}, nil)
	a.descNode = d("node_info", "Info of APISIX node", []string{"hostname"}, nil)
	a.descStreamConns = d("stream_connection_total", "Total number of connections handled per Stream Route in APISIX", []string{"route"}, nil)
	a.descStreamActive = d("stream_active_connections", "Number of stream sessions currently being proxied per listening address", []string{"listen_addr"}, nil)
	a.descStreamStatus = d("stream_status", "Stream sessions per termination status in APISIX", []string{"code", "listen_addr", "node"}, nil)
	a.descStreamBandwidth = d("stream_bandwidth", "Total bandwidth in bytes proxied by the stream subsystem in APISIX", []string{"listen_addr", "type", "side"}, nil)
	return a
}

func newExtraVar(name string) extraVar {
	v := extraVar{name: name, v: plugin.ParseVar(name)}
	switch name {
	case "upstream_addr":
		v.kind = evUpstreamAddr
	case "route_name":
		v.kind = evRouteName
	case "service_name":
		v.kind = evServiceName
	case "status", "upstream_status", "consumer_name", "route_id", "service_id":
		v.kind = evCtx
	}
	return v
}

// Configure sets the exporter's node-wide settings from config.yaml's
// plugin_attr.prometheus (nil: APISIX's defaults). The first call wins:
// config.yaml does not change while the node runs; a later different one
// is reported and left alone.
func (e *Exporter) Configure(src *core.PrometheusAttr) error {
	if src != nil {
		n := 0
		seen := map[string]bool{}
		for _, name := range metricNames {
			for _, l := range src.Metrics[name].Labels() {
				if !seen[l.Var] {
					seen[l.Var] = true
					n++
				}
			}
		}
		if n > maxExtra {
			return errTooManyVars
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if cur := e.attr.Load(); cur != nil {
		if !reflect.DeepEqual(norm(cur.src), norm(src)) {
			core.WarnOnce("prometheus-attr", "prometheus: plugin_attr.prometheus differs from the settings the metrics started with; restart to apply it")
		}
		return nil
	}
	e.attr.Store(newAttr(src))
	return nil
}

// norm is src with its defaults spelled out, for comparing settings.
func norm(src *core.PrometheusAttr) core.PrometheusAttr {
	if src == nil {
		return core.PrometheusAttr{MetricPrefix: "apisix_"}
	}
	n := *src
	n.ExportURI, n.ExportAddr.IP, n.ExportAddr.Port, n.EnableExportServer = "", "", 0, nil
	if n.MetricPrefix == "" {
		n.MetricPrefix = "apisix_"
	}
	return n
}

type configError string

func (e configError) Error() string { return string(e) }

const errTooManyVars = configError("plugin_attr.prometheus.metrics: extra labels read at most 8 distinct variables")

// attrs returns the settings, configuring defaults on first use.
func (e *Exporter) attrs() *attr {
	if a := e.attr.Load(); a != nil {
		return a
	}
	e.Configure(nil)
	return e.attr.Load()
}
