// Package responserewrite is APISIX's response-rewrite: change the answer
// the client gets — its status, header fields (add, set, remove; values
// may hold nginx variables), and its body: replaced whole (body), or
// edited by regex substitutions (filters) — when the response's vars
// expression holds (status and upstream_status among the variables). It
// applies to the upstream's answers and to those other plugins stop with.
//
// Priority 899, header_filter and body_filter phases. A chain with this
// plugin sends bodies chunked (the length is no longer known). A rewritten
// body drops Content-Encoding, ETag and Last-Modified, as APISIX does; a
// replaced body drops the upstream's, which is read and discarded.
//
// filters hold the body (up to max_resp_body_size bytes; the rest is cut
// off) and substitute at its end, after undoing a gzip Content-Encoding;
// an answer in another encoding (br, deflate) is passed on untouched, as
// the substitutions could not read it. Holding and Go's regexp allocate:
// filters are the one part of the plugin that does. Everything else
// allocates nothing.
package responserewrite

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/route"
)

// Def registers response-rewrite.
var Def = plugin.Def{
	Name:     "response-rewrite",
	Priority: 899,
	Schema: `{
		"type": "object",
		"properties": {
			"status_code": {"type": "integer", "minimum": 200, "maximum": 598},
			"body": {"type": "string"},
			"body_base64": {"type": "boolean", "default": false},
			"headers": ` + plugin.RespHeaderOpsSchema + `,
			"vars": {"type": "array"},
			"max_resp_body_size": {"type": "integer", "minimum": 1, "default": 67108864},
			"filters": {
				"type": "array", "minItems": 1,
				"items": {
					"type": "object",
					"properties": {
						"regex": {"type": "string", "minLength": 1},
						"scope": {"type": "string", "enum": ["once", "global"], "default": "once"},
						"replace": {"type": "string"},
						"options": {"type": "string", "default": "jo"}
					},
					"required": ["regex", "replace"],
					"additionalProperties": false
				}
			}
		},
		"dependencies": {
			"body_base64": ["body"],
			"body": {"not": {"required": ["filters"]}},
			"filters": {"not": {"required": ["body"]}}
		},
		"additionalProperties": false
	}`,
	New: newRewrite,
}

// Config is response-rewrite's config.
type Config struct {
	StatusCode      int             `json:"status_code"`
	Body            *string         `json:"body"`
	BodyBase64      bool            `json:"body_base64"`
	Headers         json.RawMessage `json:"headers"`
	Vars            []any           `json:"vars"`
	MaxRespBodySize int             `json:"max_resp_body_size"`
	Filters         []Filter        `json:"filters"`
}

// Filter is one regex substitution on the body.
type Filter struct {
	Regex   string `json:"regex"`
	Scope   string `json:"scope"`
	Replace string `json:"replace"`
	Options string `json:"options"`
}

var (
	hdrContentEncoding = []byte("Content-Encoding")
	hdrETag            = []byte("ETag")
	hdrLastModified    = []byte("Last-Modified")
)

type filter struct {
	sub    *plugin.RegexSub
	global bool
}

type rewrite struct {
	status  int
	reason  []byte
	body    []byte
	hasBody bool
	filters []filter
	max     int
	headers *plugin.HeaderOps
	vars    *route.Expr
}

// on is one response's state: whether it is being rewritten, whether the
// replacement body went out, and the body filters hold.
type on struct {
	yes, sent bool
	filter    bool // the filters apply (the body's encoding is one they read)
	gzip      bool
	held      []byte
}

func newRewrite(_ *plugin.Build, data []byte) (any, error) {
	conf := Config{MaxRespBodySize: 67108864}
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	p := &rewrite{status: conf.StatusCode, max: conf.MaxRespBodySize}
	if p.status != 0 {
		p.reason = []byte(http.StatusText(p.status))
	}
	if conf.Body != nil {
		p.hasBody, p.body = true, []byte(*conf.Body)
		if conf.BodyBase64 {
			b, err := base64.StdEncoding.DecodeString(*conf.Body)
			if err != nil {
				return nil, fmt.Errorf("body: not base64: %v", err)
			}
			p.body = b
		}
	}
	for i, f := range conf.Filters {
		if f.Scope == "" {
			f.Scope = "once"
		}
		if f.Options == "" {
			f.Options = "jo"
		}
		sub, err := plugin.CompileRegexSubOpts(f.Regex, f.Replace, f.Options)
		if err != nil {
			return nil, fmt.Errorf("filters[%d]: %v", i, err)
		}
		p.filters = append(p.filters, filter{sub: sub, global: f.Scope == "global"})
	}
	var err error
	if p.headers, err = plugin.ParseHeaderOps(conf.Headers); err != nil {
		return nil, fmt.Errorf("headers: %v", err)
	}
	if p.vars, err = route.CompileExpr(conf.Vars); err != nil {
		return nil, fmt.Errorf("vars: %v", err)
	}
	return p, nil
}

// HeaderFilter decides and rewrites the head.
func (p *rewrite) HeaderFilter(c *plugin.Ctx) {
	st := plugin.State[on](c)
	if !c.Eval(p.vars) {
		return
	}
	st.yes = true
	if p.status != 0 {
		c.RespEdits.SetStatus(p.status, p.reason)
	}
	if p.hasBody || p.filters != nil {
		st.filter = p.filters != nil
		if c.Resp != nil {
			if ce, ok := c.Resp.Get("Content-Encoding"); ok && len(ce) > 0 && !bytes.EqualFold(ce, []byte("identity")) {
				st.gzip = bytes.EqualFold(ce, []byte("gzip"))
				if !p.hasBody && !st.gzip {
					core.WarnOnce("response-rewrite-encoding-"+string(ce), "response-rewrite: filters cannot read a body in Content-Encoding %q: such answers pass untouched", ce)
					st.filter = false
				}
			}
		}
		if p.hasBody || st.filter {
			c.RespEdits.Del(hdrContentEncoding)
			c.RespEdits.Del(hdrETag)
			c.RespEdits.Del(hdrLastModified)
		}
	}
	c.ApplyHeaders(p.headers, &c.RespEdits)
}

// BodyFilter replaces or edits the body when this response is rewritten.
func (p *rewrite) BodyFilter(c *plugin.Ctx, chunk []byte, last bool) []byte {
	st := plugin.State[on](c)
	switch {
	case !st.yes:
		return chunk
	case p.hasBody:
		if st.sent {
			return nil
		}
		st.sent = true
		return p.body
	case !st.filter:
		return chunk
	}
	if room := p.max - len(st.held); room > 0 {
		st.held = append(st.held, chunk[:min(len(chunk), room)]...)
	}
	if !last {
		return nil
	}
	body := st.held
	if st.gzip {
		if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
			// A body cut at max_resp_body_size ends early: what decoded is kept.
			body, err = io.ReadAll(zr)
			if err != nil && err != io.ErrUnexpectedEOF {
				core.WarnOnce("response-rewrite-gzip", "response-rewrite: a gzip body did not decode: %v; filtered as far as it did", err)
			}
		} else {
			core.WarnOnce("response-rewrite-gzip", "response-rewrite: a gzip body did not decode: %v; filtered as it is", err)
		}
	}
	for _, f := range p.filters {
		if f.global {
			body, _ = f.sub.AppendAll(nil, body)
		} else if next, idx := f.sub.Append(nil, body); idx != nil {
			body = next
		}
	}
	st.held = nil
	return body
}

var (
	_ plugin.HeaderFilter = (*rewrite)(nil)
	_ plugin.BodyFilter   = (*rewrite)(nil)
)
