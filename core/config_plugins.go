package core

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// PluginAttr is config.yaml's plugin_attr: settings of a plugin for the
// whole node rather than per route.
type PluginAttr struct {
	Prometheus struct {
		// ExportURI is the path the metrics are served at.
		ExportURI string `yaml:"export_uri"`
		// ExportAddr is the exposition listener, apart from the proxy's.
		ExportAddr struct {
			IP   string `yaml:"ip"`
			Port int    `yaml:"port"`
		} `yaml:"export_addr"`
	} `yaml:"prometheus"`
	Redirect struct {
		// HTTPSPort is the port http_to_https redirects to (0: 443).
		HTTPSPort int `yaml:"https_port"`
	} `yaml:"redirect"`
}

func (a *PluginAttr) defaults() {
	p := &a.Prometheus
	p.ExportURI = "/apisix/prometheus/metrics"
	p.ExportAddr.IP = "127.0.0.1"
	p.ExportAddr.Port = 9091
}

func (a *PluginAttr) validate(d *decoder) error {
	p := &a.Prometheus
	if !strings.HasPrefix(p.ExportURI, "/") {
		return d.errf("plugin_attr.prometheus.export_uri", nil, "want a path starting with /, got %q", p.ExportURI)
	}
	if _, err := netip.ParseAddr(p.ExportAddr.IP); err != nil {
		return d.errf("plugin_attr.prometheus.export_addr.ip", nil, "want an IP address, got %q", p.ExportAddr.IP)
	}
	if p.ExportAddr.Port < 0 || p.ExportAddr.Port > 65535 {
		return d.errf("plugin_attr.prometheus.export_addr.port", nil, "want 0 to 65535, got %d", p.ExportAddr.Port)
	}
	if port := a.Redirect.HTTPSPort; port < 0 || port > 65535 {
		return d.errf("plugin_attr.redirect.https_port", nil, "want 1 to 65535 (0: 443), got %d", port)
	}
	return nil
}

// PrometheusAddr is where the prometheus plugin serves its metrics, ip:port.
func (c *Config) PrometheusAddr() string {
	a := &c.PluginAttr.Prometheus.ExportAddr
	return net.JoinHostPort(a.IP, strconv.Itoa(a.Port))
}
