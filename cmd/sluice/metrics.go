package main

import (
	"io"
	"slices"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/prometheus"
)

// startMetrics serves the prometheus plugin's metrics on their own
// listener when the node enables the plugin; nil when it does not. When
// config.yaml has no `plugins` list every plugin is enabled, prometheus
// only implicitly: then a taken export address is a warning (the node
// serves without the metrics listener) rather than a failure to start.
func startMetrics(cfg *core.Config, reg *plugin.Registry, g *core.Group) (io.Closer, error) {
	prometheus.Default.Connections = g.Live
	s, err := prometheus.Serve(cfg, reg)
	if err != nil {
		if slices.Contains(cfg.Plugins, "prometheus") {
			return nil, err
		}
		core.Warnf("prometheus: no metrics listener: %v", err)
		return nil, nil
	}
	if s == nil {
		return nil, nil
	}
	core.Infof("prometheus: metrics on http://%s%s", s.Addr(), cfg.PluginAttr.Prometheus.ExportURI)
	return s, nil
}
