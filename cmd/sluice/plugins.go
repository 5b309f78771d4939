package main

import (
	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/l4"
	"github.com/sluice-gateway/sluice/l7"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/apibreaker"
	"github.com/sluice-gateway/sluice/plugin/basicauth"
	"github.com/sluice-gateway/sluice/plugin/consumerrestriction"
	"github.com/sluice-gateway/sluice/plugin/cors"
	"github.com/sluice-gateway/sluice/plugin/faultinjection"
	"github.com/sluice-gateway/sluice/plugin/filelogger"
	"github.com/sluice-gateway/sluice/plugin/httplogger"
	"github.com/sluice-gateway/sluice/plugin/iprestriction"
	"github.com/sluice-gateway/sluice/plugin/jwtauth"
	"github.com/sluice-gateway/sluice/plugin/keyauth"
	"github.com/sluice-gateway/sluice/plugin/limitconn"
	"github.com/sluice-gateway/sluice/plugin/limitcount"
	"github.com/sluice-gateway/sluice/plugin/limitreq"
	"github.com/sluice-gateway/sluice/plugin/prometheus"
	"github.com/sluice-gateway/sluice/plugin/proxyrewrite"
	"github.com/sluice-gateway/sluice/plugin/realip"
	"github.com/sluice-gateway/sluice/plugin/redirect"
	"github.com/sluice-gateway/sluice/plugin/requestid"
	"github.com/sluice-gateway/sluice/plugin/responserewrite"
	"github.com/sluice-gateway/sluice/plugin/trafficsplit"
)

// builtins are the plugins this build has, in no particular order (the
// registry orders them by priority). One line per plugin package.
func builtins() []plugin.Def {
	return []plugin.Def{
		limitcount.Def,
		iprestriction.Def,
		requestid.Def,
		redirect.Def,
		limitreq.Def,
		proxyrewrite.Def,
		responserewrite.Def,
		cors.Def,
		realip.Def,
		keyauth.Def,
		basicauth.Def,
		jwtauth.Def,
		consumerrestriction.Def,
		limitconn.Def,
		prometheus.Def,
		httplogger.Def,
		filelogger.Def,
		trafficsplit.Def,
		apibreaker.Def,
		faultinjection.Def,
	}
}

// compileHooks makes the node's plugin registry (config.yaml `plugins` is
// the enabled list; absent, every built-in is enabled) and the store's
// compile hooks: the HTTP router with its plugin chains, and the stream
// routes' chains.
func compileHooks(cfg *core.Config, loops int) (*plugin.Registry, []func(*core.Snapshot) error, error) {
	reg, err := plugin.NewRegistry(cfg.Plugins, builtins()...)
	if err != nil {
		return nil, nil, &core.ConfigError{File: cfg.Path, Key: "plugins", Reason: err.Error()}
	}
	web := &l7.Plugins{Registry: reg, Config: cfg, Loops: loops}
	return reg, []func(*core.Snapshot) error{web.Compile, l4.CompilePlugins(reg)}, nil
}
