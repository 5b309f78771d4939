package core

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Config is conf/config.yaml: the node's own settings. Resources (routes,
// upstreams, stream routes…) live in the provider, not here.
type Config struct {
	Listen struct {
		HTTP   []string `yaml:"http"`
		Stream struct {
			TCP []string `yaml:"tcp"`
			UDP []string `yaml:"udp" unsupported:"UDP stream proxying"`
		} `yaml:"stream"`
	} `yaml:"listen"`
	Admin struct {
		Listen     string     `yaml:"listen"`
		Keys       []AdminKey `yaml:"keys"`
		AllowAdmin []string   `yaml:"allow_admin"`
	} `yaml:"admin"`
	// Workers is the number of event loops; 0 means one per usable core.
	Workers int `yaml:"workers"`
	Config  struct {
		Provider string `yaml:"provider"`
		YAMLPath string `yaml:"yaml_path"`
	} `yaml:"config"`
	Etcd struct {
		Embedded  bool     `yaml:"embedded"`
		DataDir   string   `yaml:"data_dir"`
		Endpoints []string `yaml:"endpoints"`
		Prefix    string   `yaml:"prefix"`
		// UnsafeNoFsync (embedded only, opt-in) acknowledges writes before
		// they reach the disk: docs/config-plane.md says what that risks.
		UnsafeNoFsync bool `yaml:"unsafe_no_fsync"`
		// User and Password authenticate to an external cluster; TLS files
		// are relative to this file.
		User     string `yaml:"user"`
		Password string `yaml:"password"`
		TLS      struct {
			Cert   string `yaml:"cert"`
			Key    string `yaml:"key"`
			CA     string `yaml:"ca"`
			SNI    string `yaml:"sni"`
			Verify *bool  `yaml:"verify"`
		} `yaml:"tls"`
	} `yaml:"etcd"`
	Plugins []string `yaml:"plugins"`
	Stream  struct {
		// Splice forwards TCP streams with splice(2): "auto" (default: copy
		// small exchanges, splice bulk flows), "on" or "off".
		Splice string `yaml:"splice"`
		// BufferSize is the per-loop read buffer and so the most a relay holds
		// per direction for a slow reader (the high watermark). Default 64 KiB.
		BufferSize int `yaml:"buffer_size"`
	} `yaml:"stream"`
	// HTTP are the HTTP proxy's client-side limits and timeouts (seconds).
	HTTP struct {
		HeadTimeout       float64 `yaml:"head_timeout"`
		KeepaliveTimeout  float64 `yaml:"keepalive_timeout"`
		BodyTimeout       float64 `yaml:"body_timeout"`
		KeepaliveRequests int     `yaml:"keepalive_requests"`
		MaxRequestLine    int     `yaml:"max_request_line"`
		MaxHeaderBytes    int     `yaml:"max_header_bytes"`
		MaxHeaders        int     `yaml:"max_headers"`
		MaxBodySize       int64   `yaml:"max_body_size"`
		// UpstreamKeepalivePool is the default of every upstream's
		// keepalive_pool (core/upstream_policy.go).
		UpstreamKeepalivePool KeepaliveDefaults `yaml:"upstream_keepalive_pool"`
	} `yaml:"http"`
	// Upstream is node-wide upstream policy.
	Upstream struct {
		// AllUnhealthy is what to do when health checks mark every node
		// left for a request down: "try" them anyway (APISIX's behaviour,
		// the default) or "fail" fast with 502.
		AllUnhealthy string `yaml:"all_unhealthy"`
	} `yaml:"upstream"`
	// DNSResolver, DNSResolverValid and ResolverTimeout are APISIX's keys
	// for resolving upstream node names (core/dns.go): the nameservers
	// ("ip" or "ip:port"; default /etc/resolv.conf's), a TTL that replaces
	// the records' own (seconds; 0 keeps theirs), and the time one lookup
	// may take (seconds).
	DNSResolver      []string `yaml:"dns_resolver"`
	DNSResolverValid int      `yaml:"dns_resolver_valid"`
	ResolverTimeout  float64  `yaml:"resolver_timeout"`
	// ShutdownTimeout is how long SIGTERM waits for sessions to finish (s).
	ShutdownTimeout float64 `yaml:"shutdown_timeout"`
	Log             struct {
		Level string `yaml:"level"`
	} `yaml:"log"`

	// PluginAttr are plugins' node-wide settings (APISIX's plugin_attr).
	PluginAttr PluginAttr `yaml:"plugin_attr"`

	// Path is where the config was read from; Dir resolves relative paths.
	Path string `yaml:"-"`
}

// AdminKey is one Admin API credential.
type AdminKey struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
	Role string `yaml:"role"`
}

// Dir is the directory relative paths in the config are resolved against.
func (c *Config) Dir() string { return filepath.Dir(c.Path) }

// Resolve makes p absolute relative to the config file's directory.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir(), p)
}

// WorkerCount is the number of loops to run.
func (c *Config) WorkerCount() int {
	if c.Workers > 0 {
		return c.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// SpliceMode is how TCP relays use splice(2).
func (c *Config) SpliceMode() SpliceMode {
	switch c.Stream.Splice {
	case "on":
		return SpliceOn
	case "off":
		return SpliceOff
	}
	return SpliceAuto
}

// Shutdown is the drain deadline for SIGTERM.
func (c *Config) Shutdown() time.Duration {
	return time.Duration(c.ShutdownTimeout * float64(time.Second))
}

func defaultConfig() *Config {
	c := &Config{}
	c.Listen.HTTP = []string{"0.0.0.0:9080"}
	c.Admin.Listen = "127.0.0.1:9180"
	c.Config.Provider = "etcd"
	c.Config.YAMLPath = "routes.yaml"
	c.Etcd.Embedded = true
	c.Etcd.DataDir = "data/etcd"
	c.Etcd.Prefix = "/sluice"
	c.Stream.Splice = "auto"
	c.Stream.BufferSize = 64 << 10
	c.HTTP.HeadTimeout = 10
	c.HTTP.KeepaliveTimeout = 60
	c.HTTP.BodyTimeout = 60
	c.HTTP.KeepaliveRequests = 10000
	c.HTTP.MaxRequestLine = 16 << 10
	c.HTTP.MaxHeaderBytes = 64 << 10
	c.HTTP.MaxHeaders = 100
	c.HTTP.UpstreamKeepalivePool = KeepaliveDefaults{Size: 320, IdleTimeout: 60, Requests: 1000}
	c.Upstream.AllUnhealthy = "try"
	c.ResolverTimeout = 5
	c.ShutdownTimeout = 10
	c.Log.Level = "info"
	c.PluginAttr.defaults()
	return c
}

// LoadConfig reads and validates config.yaml. The error is a *ConfigError
// naming file, line, key and reason.
func LoadConfig(path string) (*Config, error) {
	c := defaultConfig()
	c.Path = path
	d, err := decodeFile(path, c)
	if err != nil {
		return nil, err
	}
	if err := c.validate(d); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) validate(d *decoder) error {
	for i, a := range c.Listen.HTTP {
		if _, err := ParseAddr(a); err != nil {
			return d.errf(fmt.Sprintf("listen.http[%d]", i), nil, "%q: %v", a, err)
		}
	}
	for i, a := range c.Listen.Stream.TCP {
		if _, err := ParseAddr(a); err != nil {
			return d.errf(fmt.Sprintf("listen.stream.tcp[%d]", i), nil, "%q: %v", a, err)
		}
	}
	if c.Admin.Listen != "" {
		if _, err := ParseAddr(c.Admin.Listen); err != nil {
			return d.errf("admin.listen", nil, "%q: %v", c.Admin.Listen, err)
		}
	}
	for i, k := range c.Admin.Keys {
		p := fmt.Sprintf("admin.keys[%d]", i)
		if k.Key == "" {
			return d.errf(p+".key", nil, "must not be empty")
		}
		if k.Role != "admin" && k.Role != "viewer" {
			return d.errf(p+".role", nil, "want admin or viewer, got %q", k.Role)
		}
	}
	if c.Workers < 0 || c.Workers > 1024 {
		return d.errf("workers", nil, "want 0 (one per core) to 1024, got %d", c.Workers)
	}
	switch c.Config.Provider {
	case "yaml":
	case "etcd":
		if err := c.validateEtcd(d); err != nil {
			return err
		}
	default:
		return d.errf("config.provider", nil, "want yaml or etcd, got %q", c.Config.Provider)
	}
	switch c.Stream.Splice {
	case "auto", "on", "off":
	default:
		return d.errf("stream.splice", nil, "want auto, on or off, got %q", c.Stream.Splice)
	}
	if c.Stream.BufferSize < 4<<10 || c.Stream.BufferSize > 16<<20 {
		return d.errf("stream.buffer_size", nil, "want 4096 to 16777216 bytes, got %d", c.Stream.BufferSize)
	}
	for _, v := range []struct {
		key string
		val float64
	}{{"http.head_timeout", c.HTTP.HeadTimeout}, {"http.keepalive_timeout", c.HTTP.KeepaliveTimeout}, {"http.body_timeout", c.HTTP.BodyTimeout}} {
		if v.val <= 0 {
			return d.errf(v.key, nil, "want a positive number of seconds, got %v", v.val)
		}
	}
	if c.HTTP.KeepaliveRequests < 0 || c.HTTP.MaxBodySize < 0 {
		return d.errf("http", nil, "keepalive_requests and max_body_size must not be negative")
	}
	if c.HTTP.MaxHeaderBytes < 1024 || c.HTTP.MaxHeaderBytes > c.Stream.BufferSize {
		return d.errf("http.max_header_bytes", nil, "want 1024 to stream.buffer_size (%d), got %d: a head must fit the read buffer", c.Stream.BufferSize, c.HTTP.MaxHeaderBytes)
	}
	if c.HTTP.MaxRequestLine < 256 || c.HTTP.MaxRequestLine > c.Stream.BufferSize {
		return d.errf("http.max_request_line", nil, "want 256 to stream.buffer_size (%d), got %d", c.Stream.BufferSize, c.HTTP.MaxRequestLine)
	}
	if c.HTTP.MaxHeaders < 1 || c.HTTP.MaxHeaders > 10000 {
		return d.errf("http.max_headers", nil, "want 1 to 10000, got %d", c.HTTP.MaxHeaders)
	}
	if err := c.validateUpstreamPolicy(d); err != nil {
		return err
	}
	switch c.Upstream.AllUnhealthy {
	case "try", "fail":
	default:
		return d.errf("upstream.all_unhealthy", nil, "want try or fail, got %q", c.Upstream.AllUnhealthy)
	}
	if c.ShutdownTimeout < 0 {
		return d.errf("shutdown_timeout", nil, "must not be negative")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return d.errf("log.level", nil, "want debug, info, warn or error, got %q", c.Log.Level)
	}
	return c.PluginAttr.validate(d)
}

// validateEtcd checks the etcd section (core/provider_etcd.go uses it).
func (c *Config) validateEtcd(d *decoder) error {
	e := &c.Etcd
	if !strings.HasPrefix(e.Prefix, "/") || strings.HasSuffix(e.Prefix, "/") {
		return d.errf("etcd.prefix", nil, "want a key prefix starting with / and not ending with one, got %q", e.Prefix)
	}
	if e.Embedded {
		if len(e.Endpoints) > 1 {
			return d.errf("etcd.endpoints", nil, "with etcd.embedded, at most one endpoint: where the embedded etcd listens")
		}
		for i, ep := range e.Endpoints {
			if _, err := EmbeddedPeerURL(ep); err != nil {
				return d.errf(fmt.Sprintf("etcd.endpoints[%d]", i), nil, "%v", err)
			}
		}
		if e.DataDir == "" {
			return d.errf("etcd.data_dir", nil, "required with etcd.embedded")
		}
		return nil
	}
	if e.UnsafeNoFsync {
		return d.errf("etcd.unsafe_no_fsync", nil, "only for the embedded etcd (an external cluster is configured by its own flags)")
	}
	if len(e.Endpoints) == 0 {
		return d.errf("etcd.endpoints", nil, "required when etcd.embedded is false")
	}
	if (e.TLS.Cert == "") != (e.TLS.Key == "") {
		return d.errf("etcd.tls", nil, "set both cert and key, or neither")
	}
	return nil
}
