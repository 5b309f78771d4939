package filelogger_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/filelogger"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

const get = "GET /hello?a=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\r\n"

func build(t *testing.T, route, meta string) *plugin.Chain {
	t.Helper()
	reg := plugintest.Registry(t, filelogger.Def)
	cfg := plugintest.Config{Route: route}
	if meta != "" {
		cfg.Metadata = map[string]string{"file-logger": meta}
	}
	return plugintest.MustBuild(t, reg, cfg)
}

func logRequests(ch *plugin.Chain, n int) {
	r := plugintest.NewRequest(get, "192.0.2.7:5000")
	for range n {
		c := r.Reset(ch)
		c.Start = time.Now().Add(-2 * time.Millisecond)
		c.UpstreamStart = c.Start.Add(time.Millisecond)
		c.Node = netip.MustParseAddrPort("10.0.0.1:80")
		c.BytesIn, c.BytesOut = int64(len(get)), 42
		c.Request()
		r.Respond("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
		c.Log()
	}
}

// readLines waits (bounded) until path has n lines and returns them.
func readLines(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ls []string
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				ls = append(ls, sc.Text())
			}
			f.Close()
		}
		if len(ls) >= n {
			return ls
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d lines after 10 s, want %d", path, len(ls), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// APISIX's documented configs.
func TestDocExamples(t *testing.T) {
	reg := plugintest.Registry(t, filelogger.Def)
	for _, tc := range []plugintest.Config{
		{Route: `{"file-logger":{"path":"logs/file.log"}}`},
		{Route: `{"file-logger":{"path":"logs/file.log"}}`,
			Metadata: map[string]string{"file-logger": `{"log_format":{"host":"$host","@timestamp":"$time_iso8601","client_ip":"$remote_addr"}}`}},
		{Route: `{"file-logger":{"path":"logs/file.log","log_format":{"host":"$host","@timestamp":"$time_iso8601","client_ip":"$remote_addr"}}}`},
	} {
		if _, err := plugintest.Build(t, reg, tc); err != nil {
			t.Errorf("%s %v: %v", tc.Route, tc.Metadata, err)
		}
	}
	for conf, want := range map[string]string{
		`{"file-logger":{}}`: "path: set it in the plugin's config or in its plugin_metadata",
		`{"file-logger":{"path":"x","match":[[["arg_a","~~~","1"]]]}}`: "match[0]",
		`{"file-logger":{"path":"x","match":[1]}}`:                     "/match/0",
		`{"file-logger":{"path":"x","batch_max_size":1}}`:              "additional properties 'batch_max_size' not allowed",
	} {
		_, err := plugintest.Build(t, reg, plugintest.Config{Route: conf})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", conf, err, want)
		}
	}
}

// Entries land in a real file, one JSON object per line: APISIX's full
// log by default.
func TestWritesFullLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	ch := build(t, fmt.Sprintf(`{"file-logger":{"path":%q}}`, path), "")
	logRequests(ch, 5)
	ls := readLines(t, path, 5)
	if len(ls) != 5 {
		t.Fatalf("%d lines", len(ls))
	}
	for _, l := range ls {
		var e struct {
			Request struct {
				Method  string
				URI     string
				Headers map[string]string
			}
			Response struct{ Status, Size int }
			Upstream string
			RouteID  string `json:"route_id"`
			ClientIP string `json:"client_ip"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		if e.Request.Method != "GET" || e.Request.URI != "/hello?a=1" || e.Request.Headers["user-agent"] != "test" ||
			e.Response.Status != 201 || e.Response.Size != 42 || e.Upstream != "10.0.0.1:80" || e.RouteID != "1" || e.ClientIP != "192.0.2.7" {
			t.Errorf("entry %s", l)
		}
	}
}

// Loggers writing from many goroutines (loops) never interleave lines,
// and a moved (rotated) file is followed: the next entries go to a new
// file at path.
func TestConcurrentAndRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	ch := build(t, fmt.Sprintf(`{"file-logger":{"path":%q,"log_format":{"h":"$host","ua":"$http_user_agent"}}}`, path), "")
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); logRequests(ch, 250) }()
	}
	wg.Wait()
	ls := readLines(t, path, 1000)
	for _, l := range ls {
		if l != `{"h":"example.com","ua":"test","route_id":"1"}` {
			t.Fatalf("line %q", l)
		}
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	logRequests(ch, 3)
	if ls := readLines(t, path, 3); len(ls) != 3 {
		t.Errorf("after rotation: %d lines", len(ls))
	}
}

// A directory that is not there: entries fail and are counted, requests
// go on.
func TestUnwritablePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "access.log")
	failed := filelogger.Stats.Failed.Load()
	ch := build(t, fmt.Sprintf(`{"file-logger":{"path":%q}}`, path), "")
	logRequests(ch, 3)
	deadline := time.Now().Add(10 * time.Second)
	for filelogger.Stats.Failed.Load()-failed < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if d := filelogger.Stats.Failed.Load() - failed; d != 3 {
		t.Errorf("failed %d, want 3", d)
	}
}
