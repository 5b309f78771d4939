package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"time"

	"github.com/sluice-gateway/sluice/core"
)

// startPprof serves Go's profiles (net/http/pprof: CPU, heap, goroutines,
// execution traces) on addr, for `sluice run -pprof 127.0.0.1:6060`. Off
// unless asked for, on its own listener (never a data-plane or the Admin
// API's port), and only on a loopback address: a profile shows the
// process's memory.
func startPprof(addr string) (func(), error) {
	stop, _, err := startPprofAddr(addr)
	return stop, err
}

// startPprofAddr is startPprof, also returning the address it listens on.
func startPprofAddr(addr string) (func(), string, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, "", fmt.Errorf("-pprof %q: want ip:port: %v", addr, err)
	}
	if !ap.Addr().IsLoopback() {
		return nil, "", fmt.Errorf("-pprof %q: only a loopback address is allowed", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("-pprof: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			core.Warnf("pprof: %v", err)
		}
	}()
	core.Infof("pprof: profiles on http://%s/debug/pprof/", ln.Addr())
	return func() { srv.Close() }, ln.Addr().String(), nil
}
