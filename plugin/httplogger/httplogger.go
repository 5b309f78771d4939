// Package httplogger is APISIX's http-logger: each request's log entry
// (APISIX's full log, or a log_format) POSTed as JSON to an HTTP(S)
// server, in batches, off the event loop.
//
// The log hook copies the request and response heads and a few fields
// into a record from the logger's pool and queues it, never waiting: with
// max_pending_entries records queued or being formatted, an entry is
// dropped and counted (Stats.Dropped). With include_req_body or
// include_resp_body the instance also reads the bodies as they stream
// through the proxy (plugin.RequestBodyReader, ResponseBodyReader), copying
// at most max_*_body_bytes of each into the record, within the loggers'
// shared batchlog.DefaultBodyBudget. One goroutine per logger (a
// configured instance, kept across config snapshots while its config is
// unchanged) formats entries and sends batches; it ends when idle.
//
// Allocations on the request path: none once the logger's pool has grown
// to the traffic (each new record allocates itself and its heads' bytes,
// at most max_pending_entries over the logger's life), except the
// goroutine started when an idle logger gets an entry. Formatting JSON
// allocates, on the logger's goroutine.
package httplogger

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/internal/batchlog"
)

const name = "http-logger"

// Stats count all http-logger instances' entries.
var Stats batchlog.Stats

// Def registers the plugin.
var Def = plugin.Def{
	Name:     name,
	Priority: 410,
	Schema: `{
		"type": "object",
		"properties": {
			"uri": {"type": "string"},
			"auth_header": {"type": "string"},
			"timeout": {"type": "integer", "minimum": 1, "default": 3},
			"log_format": {"type": "object"},
			"log_format_extra": {"type": "object"},` + batchlog.BodySchema + `,
			"concat_method": {"type": "string", "enum": ["json", "new_line"], "default": "json"},
			"ssl_verify": {"type": "boolean", "default": false},` + batchlog.BatchSchema + `
		},
		"required": ["uri"],
		"additionalProperties": false
	}`,
	MetadataSchema: `{
		"type": "object",
		"properties": {
			"log_format": {"type": "object"},
			"log_format_extra": {"type": "object"},
			"max_pending_entries": {"type": "integer", "minimum": 1}
		},
		"additionalProperties": false
	}`,
	New: build,
}

type config struct {
	URI            string          `json:"uri"`
	AuthHeader     string          `json:"auth_header"`
	Timeout        int             `json:"timeout"`
	LogFormat      json.RawMessage `json:"log_format"`
	LogFormatExtra json.RawMessage `json:"log_format_extra"`
	ConcatMethod   string          `json:"concat_method"`
	SSLVerify      bool            `json:"ssl_verify"`
	batchlog.Bodies
	batchlog.Batch
}

type metadata struct {
	LogFormat      json.RawMessage `json:"log_format"`
	LogFormatExtra json.RawMessage `json:"log_format_extra"`
	MaxPending     int             `json:"max_pending_entries"`
}

func build(b *plugin.Build, data []byte) (any, error) {
	conf := config{Timeout: 3, ConcatMethod: "json", Bodies: batchlog.DefaultBodies(), Batch: batchlog.DefaultBatch("http logger")}
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	u, err := url.Parse(conf.URI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("uri: want an http:// or https:// URL, got %q", conf.URI)
	}
	var meta metadata
	md, err := b.Metadata(name)
	if err != nil {
		return nil, fmt.Errorf("plugin_metadata: %w", err)
	}
	if err := plugin.Decode(md, &meta); err != nil {
		return nil, err
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
	// One logger per configured instance, kept across snapshots while its
	// config and the metadata it read are unchanged.
	k := b.Keep(func() any { return new(batchlog.Kept) }).(*batchlog.Kept)
	l := k.Get(string(md), func() *batchlog.Logger {
		o := batchlog.FromBatch(conf.Batch)
		o.MaxPending, o.Capture = meta.MaxPending, capture
		return batchlog.New(o, format, newSink(&conf), &Stats)
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
// server may overwrite while streaming the body, and decides on bodies.
func (p *logger) Access(c *plugin.Ctx) plugin.Result {
	p.l.Access(c)
	return plugin.Continue
}

// HeaderFilter keeps the upstream's response head.
func (p *logger) HeaderFilter(c *plugin.Ctx) { p.l.HeaderFilter(c) }

// Log queues the entry.
func (p *logger) Log(c *plugin.Ctx) { p.l.Log(c) }

// bodyLogger is a logger that includes bodies: only it reads them, so a
// route whose logger does not costs the proxy nothing for its bodies.
type bodyLogger struct{ logger }

// RequestBody copies the request body, up to max_req_body_bytes.
func (p *bodyLogger) RequestBody(c *plugin.Ctx, chunk []byte) { p.l.RequestBody(c, chunk) }

// ResponseBody copies the response body, up to max_resp_body_bytes.
func (p *bodyLogger) ResponseBody(c *plugin.Ctx, chunk []byte) { p.l.ResponseBody(c, chunk) }

// sink POSTs batches.
type sink struct {
	uri, auth string
	newLine   bool
	single    bool
	client    *http.Client
	buf       bytes.Buffer
}

func newSink(c *config) *sink {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2, IdleConnTimeout: 60 * time.Second,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: !c.SSLVerify}}
	return &sink{
		uri: c.URI, auth: c.AuthHeader, newLine: c.ConcatMethod == "new_line", single: c.BatchMaxSize == 1,
		client: &http.Client{Timeout: time.Duration(c.Timeout) * time.Second, Transport: tr},
	}
}

// Write sends the batch as APISIX does: a JSON array of the entries (one
// object alone when batch_max_size is 1), or with concat_method new_line
// the objects one per line.
func (s *sink) Write(entries [][]byte) error {
	s.buf.Reset()
	switch {
	case s.single && len(entries) == 1:
		s.buf.Write(entries[0])
	case s.newLine:
		for i, e := range entries {
			if i > 0 {
				s.buf.WriteByte('\n')
			}
			s.buf.Write(e)
		}
	default:
		s.buf.WriteByte('[')
		for i, e := range entries {
			if i > 0 {
				s.buf.WriteByte(',')
			}
			s.buf.Write(e)
		}
		s.buf.WriteByte(']')
	}
	req, err := http.NewRequest(http.MethodPost, s.uri, bytes.NewReader(s.buf.Bytes()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.auth != "" {
		req.Header.Set("Authorization", s.auth)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	res.Body.Close()
	if res.StatusCode >= 400 {
		return fmt.Errorf("%s answered %s: %s", s.uri, res.Status, bytes.TrimSpace(body))
	}
	return nil
}

var (
	_ plugin.Accessor           = (*logger)(nil)
	_ plugin.HeaderFilter       = (*logger)(nil)
	_ plugin.Logger             = (*logger)(nil)
	_ plugin.RequestBodyReader  = (*bodyLogger)(nil)
	_ plugin.ResponseBodyReader = (*bodyLogger)(nil)
)
