package main

import (
	"context"
	"fmt"
	"net/netip"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/l7/admin"
	"github.com/sluice-gateway/sluice/plugin"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// configPlane is everything that feeds the store: the provider (the watched
// YAML file, or etcd — embedded or external), and the Admin API.
type configPlane struct {
	cfg    *core.Config
	cancel context.CancelFunc
	wg     sync.WaitGroup

	yaml   *core.YAMLProvider
	member *core.EtcdMember
	client *clientv3.Client
	etcd   *core.EtcdProvider
	admin  *admin.Server
	source string
	hooks  []func(*core.Snapshot) error
	health *core.Health
	// plugins is the node's registry, for the Admin API's plugin endpoints.
	plugins *plugin.Registry
}

// startConfigPlane loads the first config into store and keeps it current
// from then on. With an external etcd that cannot be reached, the node
// starts from the last config it saved; without one, it starts with no
// routes and says it is not ready.
func startConfigPlane(cfg *core.Config, routesPath string, workers int, store *core.Store, reg *plugin.Registry) (*configPlane, error) {
	// Until run() subscribes to signals, a SIGHUP (an operator, or a test,
	// reloading early) would end the process; the watcher catches changes
	// made in that window anyway.
	signal.Ignore(syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	cp := &configPlane{cfg: cfg, cancel: cancel, hooks: store.Compile, health: store.Health(), plugins: reg}
	ok := false
	defer func() {
		if !ok {
			cp.Close()
		}
	}()
	switch cfg.Config.Provider {
	case "yaml":
		cp.yaml = core.NewYAMLProvider(cfg, routesPath, store, workers)
		if err := cp.yaml.Load(); err != nil {
			return nil, err
		}
		cp.source = routesPath
		cp.spawn(func() {
			if err := cp.yaml.Watch(ctx); err != nil {
				core.Warnf("config: %v", err)
			}
		})
	case "etcd":
		if err := cp.startEtcd(ctx, workers, store); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("config.provider %q", cfg.Config.Provider)
	}
	if cfg.Admin.Listen != "" {
		if err := cp.startAdmin(workers); err != nil {
			return nil, err
		}
	}
	ok = true
	return cp, nil
}

func (cp *configPlane) spawn(f func()) {
	cp.wg.Add(1)
	go func() {
		defer cp.wg.Done()
		f()
	}()
}

// dataDir is etcd.data_dir, resolved.
func (cp *configPlane) dataDir() string { return cp.cfg.Resolve(cp.cfg.Etcd.DataDir) }

func (cp *configPlane) startEtcd(ctx context.Context, workers int, store *core.Store) error {
	cfg := cp.cfg
	endpoints := cfg.Etcd.Endpoints
	cache := ""
	if cfg.Etcd.Embedded {
		client := core.DefaultEmbeddedClient
		if len(endpoints) == 1 {
			client = endpoints[0]
		}
		peer, err := core.EmbeddedPeerURL(client)
		if err != nil {
			return err
		}
		m, err := core.StartEtcdMember(core.EtcdMemberConfig{Dir: cp.dataDir(), Client: client, Peer: peer, UnsafeNoFsync: cfg.Etcd.UnsafeNoFsync})
		if err != nil {
			return fmt.Errorf("embedded etcd: %w", err)
		}
		cp.member = m
		endpoints = []string{m.Endpoint}
		core.Infof("embedded etcd: data in %s, clients on %s", cp.dataDir(), m.Endpoint)
		if cfg.Etcd.UnsafeNoFsync {
			core.Warnf("embedded etcd: etcd.unsafe_no_fsync is on: writes are acknowledged before they reach the disk; a machine crash or power cut may lose the last ones or leave %s unusable", cp.dataDir())
		}
	} else {
		cache = filepath.Join(cp.dataDir(), "last-config.json")
	}
	var client *clientv3.Client
	var err error
	if cp.member != nil {
		client = cp.member.Client() // in-process: no gRPC round trip per change
	} else if client, err = core.NewEtcdClient(cfg, endpoints); err != nil {
		return fmt.Errorf("etcd client: %w", err)
	}
	cp.client = client
	cp.etcd = core.NewEtcdProvider(cfg, client, store, workers, cache)
	cp.source = fmt.Sprintf("etcd %s under %s", strings.Join(endpoints, ","), cfg.Etcd.Prefix)
	lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
	err = cp.etcd.Load(lctx)
	lcancel()
	switch {
	case err == nil:
		core.Infof("etcd: loaded %s at revision %d", cp.source, cp.etcd.Revision())
	case cfg.Etcd.Embedded:
		return fmt.Errorf("reading the embedded etcd: %w", err)
	default:
		rev, saved, cerr := cp.etcd.LoadCache()
		if cerr == nil {
			core.Warnf("etcd unreachable (%v): serving the last config saved in %s at %s (revision %d) until etcd answers",
				err, cache, saved.Format(time.RFC3339), rev)
		} else {
			core.Errorf("etcd unreachable (%v) and no saved config to start from (%v): serving no routes, not ready, until etcd answers", err, cerr)
			empty, berr := core.BuildSnapshot(cfg, &core.Resources{}, "empty", workers)
			if berr != nil {
				return berr
			}
			if perr := store.Publish(empty); perr != nil {
				return perr
			}
		}
	}
	cp.spawn(func() { cp.etcd.Run(ctx) })
	return nil
}

func (cp *configPlane) startAdmin(workers int) error {
	cfg := cp.cfg
	keys := cfg.Admin.Keys
	if len(keys) == 0 {
		path := filepath.Join(filepath.Dir(cp.dataDir()), "admin.key")
		key, created, err := admin.EnsureKeyFile(path)
		if err != nil {
			return fmt.Errorf("admin key: %w", err)
		}
		if created {
			core.Warnf("admin API: no admin.keys configured; generated an admin key into %s (mode 0600)", path)
		} else {
			core.Infof("admin API: no admin.keys configured; using the key in %s", path)
		}
		keys = []core.AdminKey{{Name: "generated", Key: key, Role: "admin"}}
	}
	var allow []netip.Prefix
	for _, a := range cfg.Admin.AllowAdmin {
		p, err := parseCIDR(a)
		if err != nil {
			return fmt.Errorf("admin.allow_admin: %q: %v", a, err)
		}
		allow = append(allow, p)
	}
	o := admin.Options{Config: cfg, Loops: workers, Client: cp.client, Keys: keys, Allow: allow, Ready: cp.ready, Compile: cp.hooks, Health: cp.health, Plugins: cp.plugins}
	if cp.etcd != nil {
		o.View = cp.etcd
	}
	srv, err := admin.New(o)
	if err != nil {
		return err
	}
	if err := srv.Listen(cfg.Admin.Listen); err != nil {
		return err
	}
	cp.admin = srv
	cp.spawn(func() {
		if err := srv.Serve(); err != nil {
			core.Errorf("admin API: %v", err)
		}
	})
	core.Infof("admin API on http://%s (/apisix/admin/, /healthz, /readyz, /v1/healthcheck)", srv.Addr())
	return nil
}

func parseCIDR(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func (cp *configPlane) ready() (bool, string) {
	switch {
	case cp.yaml != nil:
		return cp.yaml.Ready(), "file"
	case cp.etcd != nil && cp.etcd.FromCache():
		return cp.etcd.Ready(), "cache"
	case cp.etcd != nil:
		return cp.etcd.Ready(), "etcd"
	}
	return false, ""
}

// Reload is SIGHUP: the file is re-read; etcd needs nothing, it is watched.
func (cp *configPlane) Reload() {
	if cp.yaml != nil {
		cp.yaml.Reload()
		return
	}
	core.Infof("SIGHUP: the etcd provider follows etcd by watch; nothing to reload")
}

// Source says where resources come from, for the startup line.
func (cp *configPlane) Source() string { return cp.source }

// Close stops the Admin API, the watch and the embedded etcd.
func (cp *configPlane) Close() {
	if cp.admin != nil {
		cp.admin.Close()
	}
	cp.cancel()
	cp.wg.Wait()
	if cp.client != nil {
		cp.client.Close()
	}
	if cp.member != nil {
		cp.member.Close()
	}
}
