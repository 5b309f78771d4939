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
	for body, want := range map[string]string{
		"plugin_attr: {prometheus: {export_uri: metrics}}":          `plugin_attr.prometheus.export_uri: want a path starting with /, got "metrics"`,
		"plugin_attr: {prometheus: {export_addr: {ip: localhost}}}": `plugin_attr.prometheus.export_addr.ip: want an IP address, got "localhost"`,
		"plugin_attr: {prometheus: {export_addr: {port: 70000}}}":   "plugin_attr.prometheus.export_addr.port: want 0 to 65535, got 70000",
		"plugin_attr: {prometheus: {metric_prefix: x_}}":            "plugin_attr.prometheus.metric_prefix: unknown key",
		"plugin_attr: {prometheus: {enable_export_server: false}}":  "plugin_attr.prometheus.enable_export_server: unknown key",
		"plugin_attr: {http-logger: {}}":                            "plugin_attr.http-logger: unknown key",
	} {
		_, err := LoadConfig(writeFile(t, dir, "config.yaml", "config: {provider: yaml}\n"+body+"\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", body, err, want)
		}
	}
}
