// Package filelogger is APISIX's file-logger: each request's log entry
// (APISIX's full log, or a log_format), one JSON object per line, appended
// to a file, off the event loop.
//
// It shares http-logger's machinery (plugin/internal/batchlog): the log
// hook copies the request and response heads into a record from the
// logger's pool and queues it without waiting, dropping and counting
// (Stats.Dropped) when max_pending_entries records are pending; one
// goroutine per logger formats the entries and writes whatever is queued
// in one write(2), opening the file for each batch (so a rotated file is
// followed). Bodies (include_req_body, include_resp_body) and match work
// as batchlog says. APISIX writes each entry as the request ends; here an
// entry is written as soon as the goroutine gets to it, with no batching
// delay.
package filelogger

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/internal/batchlog"
	"github.com/sluice-gateway/sluice/route"
)

const name = "file-logger"

// Stats count all file-logger instances' entries.
var Stats batchlog.Stats

// Def registers the plugin.
var Def = plugin.Def{
	Name:     name,
	Priority: 399,
	Schema: `{
		"type": "object",
		"properties": {
			"path": {"type": "string", "minLength": 1},
			"log_format": {"type": "object"},
			"log_format_extra": {"type": "object"},` + batchlog.BodySchema + `,
			"match": {"type": "array", "maxItems": 20, "items": {"type": "array"}}
		},
		"additionalProperties": false
	}`,
	MetadataSchema: `{
		"type": "object",
		"properties": {
			"path": {"type": "string", "minLength": 1},
			"log_format": {"type": "object"},
			"log_format_extra": {"type": "object"},
			"max_pending_entries": {"type": "integer", "minimum": 1}
		},
		"additionalProperties": false
	}`,
	New: build,
}

type config struct {
	Path           string          `json:"path"`
	LogFormat      json.RawMessage `json:"log_format"`
	LogFormatExtra json.RawMessage `json:"log_format_extra"`
	Match          [][]any         `json:"match"`
	batchlog.Bodies
}

type metadata struct {
	Path           string          `json:"path"`
	LogFormat      json.RawMessage `json:"log_format"`
	LogFormatExtra json.RawMessage `json:"log_format_extra"`
	MaxPending     int             `json:"max_pending_entries"`
}

// batchMax bounds one write: what the goroutine found queued, at most
// this many entries.
const batchMax = 1000

func build(b *plugin.Build, data []byte) (any, error) {
	conf := config{Bodies: batchlog.DefaultBodies()}
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	var meta metadata
	md, err := b.Metadata(name)
	if err != nil {
		return nil, err
	}
	if err := plugin.Decode(md, &meta); err != nil {
		return nil, err
	}
	path := conf.Path
	if path == "" {
		path = meta.Path
	}
	if path == "" {
		return nil, errors.New("path: set it in the plugin's config or in its plugin_metadata")
	}
	if b.Config != nil {
		path = b.Config.Resolve(path) // relative to config.yaml's directory
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		// As in APISIX, not an error: the directory may come later, and
		// until then each write fails and is logged.
		core.WarnOnce("file-logger-dir-"+path, "file-logger: the directory of %s does not exist (yet)", path)
	}
	lf := conf.LogFormat
	if len(lf) == 0 || string(lf) == "{}" {
		lf = meta.LogFormat
	}
	format, err := batchlog.CompileFormat(lf)
	if err != nil {
		return nil, err
	}
	extra := conf.LogFormatExtra
	if len(extra) == 0 {
		extra = meta.LogFormatExtra
	}
	if err := format.SetExtra(extra); err != nil {
		return nil, err
	}
	capture, err := batchlog.CompileCapture(conf.Bodies, format)
	if err != nil {
		return nil, err
	}
	var match []*route.Expr
	for i, m := range conf.Match {
		x, err := route.CompileExpr(m)
		if err != nil {
			return nil, fmt.Errorf("match[%d]: %v", i, err)
		}
		match = append(match, x) // nil, an empty expression, holds
	}
	k := b.Keep(func() any { return new(batchlog.Kept) }).(*batchlog.Kept)
	l := k.Get(string(md), func() *batchlog.Logger {
		o := batchlog.Options{Name: name, MaxSize: batchMax, Eager: true, MaxPending: meta.MaxPending, Capture: capture, Match: match}
		return batchlog.New(o, format, &sink{path: path}, &Stats)
	})
	if capture.Any() {
		return &bodyLogger{logger{l: l, k: k}}, nil
	}
	return &logger{l: l, k: k}, nil
}

// logger holds its Kept too: Build.Keep keeps it only while an instance does.
type logger struct {
	l *batchlog.Logger
	k *batchlog.Kept
}

// Access keeps the request head of a request with a body, which the
// server may overwrite while streaming the body, and decides on match
// and bodies for it.
func (p *logger) Access(c *plugin.Ctx) plugin.Result {
	p.l.Access(c)
	return plugin.Continue
}

// HeaderFilter keeps the upstream's response head.
func (p *logger) HeaderFilter(c *plugin.Ctx) { p.l.HeaderFilter(c) }

// Log queues the entry, when match holds.
func (p *logger) Log(c *plugin.Ctx) { p.l.Log(c) }

// bodyLogger is a logger that includes bodies: only it reads them.
type bodyLogger struct{ logger }

// RequestBody copies the request body, up to max_req_body_bytes.
func (p *bodyLogger) RequestBody(c *plugin.Ctx, chunk []byte) { p.l.RequestBody(c, chunk) }

// ResponseBody copies the response body, up to max_resp_body_bytes.
func (p *bodyLogger) ResponseBody(c *plugin.Ctx, chunk []byte) { p.l.ResponseBody(c, chunk) }

// sink appends lines to the file.
type sink struct {
	mu   sync.Mutex
	path string
	buf  []byte
}

// Write appends the entries, one per line, in one write to the file
// opened for appending (created 0644 if missing).
func (s *sink) Write(entries [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = s.buf[:0]
	for _, e := range entries {
		s.buf = append(s.buf, e...)
		s.buf = append(s.buf, '\n')
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(s.buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

var (
	_ plugin.Accessor           = (*logger)(nil)
	_ plugin.HeaderFilter       = (*logger)(nil)
	_ plugin.Logger             = (*logger)(nil)
	_ plugin.RequestBodyReader  = (*bodyLogger)(nil)
	_ plugin.ResponseBodyReader = (*bodyLogger)(nil)
)
