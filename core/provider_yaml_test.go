package core

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestYAMLProviderWatch(t *testing.T) {
	dir := t.TempDir()
	cfg := etcdTestConfig()
	path := writeFile(t, dir, "routes.yaml", "stream_routes: [{id: a, upstream: {nodes: {\"127.0.0.1:7001\": 1}}}]\n")
	var store Store
	p := NewYAMLProvider(cfg, path, &store, 1)
	if err := p.Load(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Watch(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// The watch is set up asynchronously: rewrite now and then until the
	// first change lands.
	writes := 0
	waitFor(t, "write in place applied", func() bool {
		if writes%40 == 0 {
			writeFile(t, dir, "routes.yaml", "stream_routes: [{id: b, upstream: {nodes: {\"127.0.0.1:7002\": 1}}}]\n")
		}
		writes++
		return streamTarget(&store, 9100) == "b->127.0.0.1:7002"
	})

	// A bad file is rejected with file, line and reason; b keeps serving.
	rejects := p.Rejects()
	writeFile(t, dir, "routes.yaml", "stream_routes:\n  - {id: c, upstream_id: nope}\n")
	waitFor(t, "bad file rejected", func() bool { return p.Rejects() > rejects })
	if err := p.LastError(); err == nil || !strings.Contains(err.Error(), "routes.yaml:2: stream_routes[0].upstream_id: no upstream with id \"nope\"") {
		t.Fatalf("rejection: %v", err)
	}
	if got := streamTarget(&store, 9100); got != "b->127.0.0.1:7002" {
		t.Fatalf("after a bad file: %q", got)
	}
	rejects = p.Rejects()
	writeFile(t, dir, "routes.yaml", "stream_routes: [{id: d,\n")
	waitFor(t, "bad YAML rejected", func() bool { return p.Rejects() > rejects })
	if err := p.LastError(); !strings.Contains(err.Error(), "routes.yaml:1: invalid YAML") {
		t.Fatalf("rejection: %v", err)
	}

	// Replaced by rename, as editors and config management do.
	tmp := writeFile(t, dir, ".routes.yaml.tmp", "stream_routes: [{id: e, upstream: {nodes: {\"127.0.0.1:7003\": 1}}}]\n")
	if err := os.Rename(tmp, filepath.Join(dir, "routes.yaml")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "rename applied", func() bool { return streamTarget(&store, 9100) == "e->127.0.0.1:7003" })
}
