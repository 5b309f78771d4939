package core

import (
	"net"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// PluginAttr is config.yaml's plugin_attr: settings of a plugin for the
// whole node rather than per route.
type PluginAttr struct {
	Prometheus PrometheusAttr `yaml:"prometheus"`
	Redirect   struct {
		// HTTPSPort is the port http_to_https redirects to (0: 443).
		HTTPSPort int `yaml:"https_port"`
	} `yaml:"redirect"`
}

// PrometheusAttr is plugin_attr.prometheus.
type PrometheusAttr struct {
	// ExportURI is the path the metrics are served at.
	ExportURI string `yaml:"export_uri"`
	// ExportAddr is the exposition listener, apart from the proxy's.
	ExportAddr struct {
		IP   string `yaml:"ip"`
		Port int    `yaml:"port"`
	} `yaml:"export_addr"`
	// EnableExportServer must be true: false (serving the metrics on the
	// proxy port through public-api) is refused.
	EnableExportServer *bool `yaml:"enable_export_server"`
	// MetricPrefix replaces apisix_ in the metrics' names.
	MetricPrefix string `yaml:"metric_prefix"`
	// DefaultBuckets are apisix_http_latency's bucket bounds (ms).
	DefaultBuckets []float64 `yaml:"default_buckets"`
	// Metrics are per-metric settings, by APISIX's metric name
	// (http_status, http_latency, bandwidth).
	Metrics map[string]PrometheusMetricAttr `yaml:"metrics"`
}

// PrometheusMetricAttr is plugin_attr.prometheus.metrics.<metric>.
type PrometheusMetricAttr struct {
	// ExtraLabels are more labels, each {name: "$variable"}, in order.
	ExtraLabels []map[string]string `yaml:"extra_labels"`
	// Expire must be 0: series are kept for the life of the process.
	Expire int `yaml:"expire"`
}

// PrometheusLabel is one extra label: its name and its variable (without $).
type PrometheusLabel struct{ Name, Var string }

// Labels returns the metric's extra labels in their order (validated).
func (m PrometheusMetricAttr) Labels() []PrometheusLabel {
	out := make([]PrometheusLabel, 0, len(m.ExtraLabels))
	for _, kv := range m.ExtraLabels {
		for k, v := range kv {
			out = append(out, PrometheusLabel{k, strings.TrimPrefix(v, "$")})
		}
	}
	return out
}

// PrometheusBuiltinLabels are the labels sluice gives the metrics that
// take extra labels, which an extra label may not reuse.
var PrometheusBuiltinLabels = map[string][]string{
	"http_status":  {"code", "route", "matched_uri", "matched_host", "service", "consumer", "node"},
	"http_latency": {"type", "route", "service", "consumer", "node"},
	"bandwidth":    {"type", "route", "service", "consumer", "node"},
}

var (
	metricNameRe = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRe  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

func (a *PluginAttr) defaults() {
	p := &a.Prometheus
	p.ExportURI = "/apisix/prometheus/metrics"
	p.ExportAddr.IP = "127.0.0.1"
	p.ExportAddr.Port = 9091
	p.MetricPrefix = "apisix_"
}

func (a *PluginAttr) validate(d *decoder) error {
	p := &a.Prometheus
	const at = "plugin_attr.prometheus"
	if !strings.HasPrefix(p.ExportURI, "/") {
		return d.errf(at+".export_uri", nil, "want a path starting with /, got %q", p.ExportURI)
	}
	if _, err := netip.ParseAddr(p.ExportAddr.IP); err != nil {
		return d.errf(at+".export_addr.ip", nil, "want an IP address, got %q", p.ExportAddr.IP)
	}
	if p.ExportAddr.Port < 0 || p.ExportAddr.Port > 65535 {
		return d.errf(at+".export_addr.port", nil, "want 0 to 65535, got %d", p.ExportAddr.Port)
	}
	if port := a.Redirect.HTTPSPort; port < 0 || port > 65535 {
		return d.errf("plugin_attr.redirect.https_port", nil, "want 1 to 65535 (0: 443), got %d", port)
	}
	if p.EnableExportServer != nil && !*p.EnableExportServer {
		return d.errf(at+".enable_export_server", nil, "false is not supported: it serves the metrics on the proxy's port through the public-api plugin, which sluice does not have; the export server is always on")
	}
	if p.MetricPrefix != "" && !metricNameRe.MatchString(p.MetricPrefix) {
		return d.errf(at+".metric_prefix", nil, "want letters, digits, '_' and ':' (not starting with a digit), got %q", p.MetricPrefix)
	}
	if n := len(p.DefaultBuckets); n > 64 {
		return d.errf(at+".default_buckets", nil, "at most 64 buckets, got %d", n)
	}
	for i, b := range p.DefaultBuckets {
		if b <= 0 || (i > 0 && b <= p.DefaultBuckets[i-1]) {
			return d.errf(at+".default_buckets", nil, "want increasing numbers of milliseconds above 0, got %v", p.DefaultBuckets)
		}
	}
	names := make([]string, 0, len(p.Metrics))
	for name := range p.Metrics {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m := p.Metrics[name]
		mat := at + ".metrics." + name
		builtin, ok := PrometheusBuiltinLabels[name]
		if !ok {
			return d.errf(mat, nil, "sluice has extra labels for http_status, http_latency and bandwidth only")
		}
		if m.Expire != 0 {
			return d.errf(mat+".expire", nil, "only 0 is supported: sluice keeps series for the life of the process")
		}
		seen := map[string]bool{}
		for _, l := range builtin {
			seen[l] = true
		}
		for i, kv := range m.ExtraLabels {
			lat := mat + ".extra_labels[" + strconv.Itoa(i) + "]"
			if len(kv) != 1 {
				return d.errf(lat, nil, "want one {label: $variable}, got %d keys", len(kv))
			}
			for k, v := range kv {
				if !labelNameRe.MatchString(k) || strings.HasPrefix(k, "__") {
					return d.errf(lat, nil, "%q is not a label name", k)
				}
				if seen[k] {
					return d.errf(lat, nil, "label %q is already on %s", k, name)
				}
				seen[k] = true
				if len(v) < 2 || v[0] != '$' {
					return d.errf(lat+"."+k, nil, "want a $variable, got %q", v)
				}
			}
		}
	}
	return nil
}

// PrometheusAddr is where the prometheus plugin serves its metrics, ip:port.
func (c *Config) PrometheusAddr() string {
	a := &c.PluginAttr.Prometheus.ExportAddr
	return net.JoinHostPort(a.IP, strconv.Itoa(a.Port))
}
