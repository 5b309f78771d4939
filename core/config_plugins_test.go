package core

import (
	"strings"
	"testing"
)

func TestPluginAttrPrometheus(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadConfig(writeFile(t, dir, "config.yaml", "config: {provider: yaml}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PrometheusAddr(); got != "127.0.0.1:9091" || c.PluginAttr.Prometheus.ExportURI != "/apisix/prometheus/metrics" {
		t.Errorf("defaults: %s %s", got, c.PluginAttr.Prometheus.ExportURI)
	}
	// APISIX's documented example (with the ${{INTRANET_IP}} it shows
	// substituted): the other key keeps its default.
	c, err = LoadConfig(writeFile(t, dir, "config.yaml", `config: {provider: yaml}
plugin_attr:
  prometheus:
    export_addr:
      ip: 172.1.1.1
      port: 9092
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PrometheusAddr(); got != "172.1.1.1:9092" || c.PluginAttr.Prometheus.ExportURI != "/apisix/prometheus/metrics" {
		t.Errorf("export_addr: %s %s", got, c.PluginAttr.Prometheus.ExportURI)
	}
	c, err = LoadConfig(writeFile(t, dir, "config.yaml", "config: {provider: yaml}\nplugin_attr: {prometheus: {export_uri: /apisix/metrics}}\n"))
	if err != nil || c.PluginAttr.Prometheus.ExportURI != "/apisix/metrics" || c.PrometheusAddr() != "127.0.0.1:9091" {
		t.Errorf("export_uri: %v %+v", err, c)
	}
	// APISIX's documented static configuration, every key set.
	c, err = LoadConfig(writeFile(t, dir, "config.yaml", `config: {provider: yaml}
plugin_attr:
  prometheus:
    export_uri: /apisix/prometheus/metrics
    metric_prefix: apisix_
    enable_export_server: true
    export_addr:
      ip: 127.0.0.1
      port: 9091
    metrics:
      http_status:
        extra_labels:
          - upstream_addr: $upstream_addr
          - status: $upstream_status
        expire: 0
      http_latency:
        extra_labels:
          - upstream_addr: $upstream_addr
        expire: 0
      bandwidth:
        extra_labels:
          - upstream_addr: $upstream_addr
        expire: 0
    default_buckets: [10, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000]
`))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.PluginAttr.Prometheus; p.MetricPrefix != "apisix_" || len(p.DefaultBuckets) != 11 ||
		len(p.Metrics["http_status"].Labels()) != 2 || p.Metrics["http_status"].Labels()[1] != (PrometheusLabel{"status", "upstream_status"}) {
		t.Errorf("static configuration: %+v", p)
	}
	for body, want := range map[string]string{
		"plugin_attr: {prometheus: {export_uri: metrics}}":                                           `plugin_attr.prometheus.export_uri: want a path starting with /, got "metrics"`,
		"plugin_attr: {prometheus: {export_addr: {ip: localhost}}}":                                  `plugin_attr.prometheus.export_addr.ip: want an IP address, got "localhost"`,
		"plugin_attr: {prometheus: {export_addr: {port: 70000}}}":                                    "plugin_attr.prometheus.export_addr.port: want 0 to 65535, got 70000",
		"plugin_attr: {prometheus: {metric_prefix: 9x}}":                                             `plugin_attr.prometheus.metric_prefix: want letters`,
		"plugin_attr: {prometheus: {enable_export_server: false}}":                                   "plugin_attr.prometheus.enable_export_server: false is not supported: it serves the metrics on the proxy's port through the public-api plugin",
		"plugin_attr: {prometheus: {default_buckets: [10, 5]}}":                                      "plugin_attr.prometheus.default_buckets: want increasing numbers",
		"plugin_attr: {prometheus: {metrics: {upstream_status: {extra_labels: [{a: $host}]}}}}":      "plugin_attr.prometheus.metrics.upstream_status: sluice has extra labels for http_status, http_latency and bandwidth only",
		"plugin_attr: {prometheus: {metrics: {http_status: {expire: 60}}}}":                          "plugin_attr.prometheus.metrics.http_status.expire: only 0 is supported",
		"plugin_attr: {prometheus: {metrics: {http_status: {extra_labels: [{a: $host, b: $uri}]}}}}": "extra_labels[0]: want one {label: $variable}, got 2 keys",
		"plugin_attr: {prometheus: {metrics: {http_status: {extra_labels: [{node: $host}]}}}}":       `extra_labels[0]: label "node" is already on http_status`,
		"plugin_attr: {prometheus: {metrics: {bandwidth: {extra_labels: [{a: host}]}}}}":             `plugin_attr.prometheus.metrics.bandwidth.extra_labels[0].a: want a $variable, got "host"`,
		"plugin_attr: {prometheus: {metrics: {http_latency: {extra_labels: [{a-b: $host}]}}}}":       `"a-b" is not a label name`,
		"plugin_attr: {prometheus: {expire: 0}}":                                                     "plugin_attr.prometheus.expire: unknown key",
		"plugin_attr: {http-logger: {}}":                                                             "plugin_attr.http-logger: unknown key",
	} {
		_, err := LoadConfig(writeFile(t, dir, "config.yaml", "config: {provider: yaml}\n"+body+"\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", body, err, want)
		}
	}
}
