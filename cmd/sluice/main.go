// Command sluice is the gateway: `sluice run -c conf/config.yaml` serves,
// `sluice validate -c …` checks a configuration without serving, and
// `sluice version` prints the build.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/l4"
	"github.com/sluice-gateway/sluice/l7"
)

var version = "dev"

const usage = `usage:
  sluice run      -c conf/config.yaml   serve (-pprof 127.0.0.1:6060: Go profiles on that address)
  sluice validate -c conf/config.yaml   check config.yaml and its routes file, then exit
  sluice version                        print the version
`

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "-v", "--version":
		fmt.Fprintf(stdout, "sluice %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "run", "validate":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "sluice: unknown command %q\n%s", cmd, usage)
		return 2
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "conf/config.yaml", "path to config.yaml")
	pprofAddr := fs.String("pprof", "", "run: serve Go profiles (net/http/pprof) on this loopback ip:port; off when empty")
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sluice %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return 2
	}
	cfg, err := core.LoadConfig(*path)
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 1
	}
	routes := cfg.Resolve(cfg.Config.YAMLPath)
	if cmd == "validate" {
		if cfg.Config.Provider != "yaml" {
			fmt.Fprintf(stdout, "%s: ok\n", *path)
			return 0
		}
		_, hooks, err := compileHooks(cfg, cfg.WorkerCount())
		if err != nil {
			fmt.Fprintf(stderr, "sluice: %v\n", err)
			return 1
		}
		snap, err := core.LoadResources(cfg, routes, cfg.WorkerCount())
		if err == nil {
			err = (&core.Store{Compile: hooks}).Check(snap) // no DNS: names are checked, not resolved
		}
		if err != nil {
			fmt.Fprintf(stderr, "sluice: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: ok\n%s: ok\n", *path, routes)
		return 0
	}
	if *pprofAddr != "" {
		stop, err := startPprof(*pprofAddr)
		if err != nil {
			fmt.Fprintf(stderr, "sluice: %v\n", err)
			return 1
		}
		defer stop()
	}
	if err := run(cfg, routes); err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 1
	}
	return 0
}

func run(cfg *core.Config, routesPath string) error {
	core.SetLogLevel(cfg.Log.Level)
	workers := cfg.WorkerCount()
	// Before any listener exists: a SIGHUP that arrives while starting must
	// not kill the process (its default action), it is handled once serving.
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	reg, hooks, err := compileHooks(cfg, workers)
	if err != nil {
		return err
	}
	store := &core.Store{Compile: hooks, DNS: core.NewResolver(cfg)}
	defer store.DNS.Close()
	plane, err := startConfigPlane(cfg, routesPath, workers, store, reg) // provider.go
	if err != nil {
		return err
	}
	defer plane.Close()

	group, err := core.NewGroup(workers, cfg.Stream.BufferSize)
	if err != nil {
		return err
	}
	stream, err := l4.NewServer(group, store, cfg.Listen.Stream.TCP)
	if err != nil {
		return err
	}
	web, err := l7.NewServer(group, store, cfg.Listen.HTTP, l7.OptionsFrom(cfg))
	if err != nil {
		return err
	}
	metrics, err := startMetrics(cfg, reg, group) // metrics.go
	if err != nil {
		return err
	}
	if metrics != nil {
		defer metrics.Close()
	}
	group.Start()
	store.Health().Start(group) // active health checks run on the loops
	core.Infof("sluice %s: %d worker loops; http listeners %v; stream listeners %v; routes from %s (splice %s)",
		version, workers, web.Addrs, stream.Addrs, plane.Source(), cfg.Stream.Splice)

	for s := range sig {
		if s == syscall.SIGHUP {
			plane.Reload()
			continue
		}
		core.Infof("%v: no longer accepting; draining open sessions for up to %v", s, cfg.Shutdown())
		stream.StopAccepting()
		web.StopAccepting()
		left := stream.Drain(time.Now().Add(cfg.Shutdown()))
		if left > 0 {
			core.Warnf("drain deadline passed with %d sessions open; closing them", left)
		}
		group.Stop()
		core.Infof("stopped")
		return nil
	}
	return errors.New("signal channel closed")
}
