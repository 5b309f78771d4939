// Package proxyrewrite is APISIX's proxy-rewrite: change what the upstream
// receives — the path (uri, a template with nginx variables, or regex_uri
// pairs tried in order), the method, the Host, and header fields added,
// set or removed (values may hold variables too, and regex_uri's captures
// as $1…). The request's query string is kept and appended to a new uri.
// regex_uri substitutes as ngx.re.sub does: the leftmost match is replaced
// and the rest of the path kept.
//
// Priority 1008, rewrite phase. Static values are made once per build;
// rendered ones go to request scratch. 0 allocations, but a regex_uri that
// matches costs Go's regexp one (the submatch indexes).
package proxyrewrite

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/sluice-gateway/sluice/plugin"
)

// Def registers proxy-rewrite.
var Def = plugin.Def{
	Name:     "proxy-rewrite",
	Priority: 1008,
	Schema: `{
		"type": "object",
		"properties": {
			"uri": {"type": "string", "minLength": 1, "maxLength": 4096, "pattern": "^\\/.*"},
			"method": {"type": "string", "enum": ["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "MKCOL", "COPY", "MOVE", "PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "PATCH", "TRACE"]},
			"regex_uri": {"type": "array", "minItems": 2, "items": {"type": "string"}},
			"host": {"type": "string", "pattern": "^[0-9a-zA-Z-.]+(:\\d{1,5})?$"},
			"headers": ` + plugin.HeaderOpsSchema + `,
			"use_real_request_uri_unsafe": {"type": "boolean", "default": false}
		},
		"minProperties": 1,
		"additionalProperties": false
	}`,
	New: newRewrite,
}

// Config is proxy-rewrite's config.
type Config struct {
	URI      string          `json:"uri"`
	Method   string          `json:"method"`
	RegexURI []string        `json:"regex_uri"`
	Host     string          `json:"host"`
	Headers  json.RawMessage `json:"headers"`
	Unsafe   bool            `json:"use_real_request_uri_unsafe"`
}

type rewrite struct {
	uri     *plugin.Template
	regex   []*plugin.RegexSub
	method  []byte
	host    []byte
	headers *plugin.HeaderOps
	unsafe  bool
}

func newRewrite(_ *plugin.Build, data []byte) (any, error) {
	var conf Config
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	p := &rewrite{unsafe: conf.Unsafe}
	var err error
	if conf.URI != "" {
		if p.uri, err = plugin.CompileTemplate(conf.URI); err != nil {
			return nil, fmt.Errorf("uri: %v", err)
		}
	}
	if len(conf.RegexURI)%2 != 0 {
		return nil, fmt.Errorf("regex_uri: want pairs of [regex, replacement], got %d strings", len(conf.RegexURI))
	}
	for i := 0; i < len(conf.RegexURI); i += 2 {
		rs, err := plugin.CompileRegexSub(conf.RegexURI[i], conf.RegexURI[i+1])
		if err != nil {
			return nil, fmt.Errorf("regex_uri[%d]: %v", i, err)
		}
		p.regex = append(p.regex, rs)
	}
	if conf.Method != "" {
		p.method = []byte(conf.Method)
	}
	if conf.Host != "" {
		p.host = []byte(conf.Host)
	}
	if p.headers, err = plugin.ParseHeaderOps(conf.Headers); err != nil {
		return nil, fmt.Errorf("headers: %v", err)
	}
	return p, nil
}

// Rewrite applies the edits.
func (p *rewrite) Rewrite(c *plugin.Ctx) plugin.Result {
	p.rewriteTarget(c)
	if p.method != nil {
		c.Edits.SetMethod(p.method)
	}
	if p.host != nil {
		c.Edits.SetHost(p.host)
	}
	c.ApplyHeaders(p.headers, c.Edits)
	return plugin.Continue
}

// rewriteTarget sets the new request-target: the rendered uri, or the
// first regex_uri that matches the path, encoded, with the request's query
// string appended.
func (p *rewrite) rewriteTarget(c *plugin.Ctx) {
	if p.unsafe {
		return // the request-target goes upstream exactly as it came
	}
	t := c.Scratch()
	switch {
	case p.uri != nil:
		t = c.Append(t, p.uri)
	case p.regex != nil:
		path := c.Req.Path()
		matched := false
		for _, rs := range p.regex {
			var idx []int
			if t, idx = rs.Append(t, path); idx != nil {
				c.SetCaptures(path, idx) // $1… in the header values
				matched = true
				break
			}
		}
		if !matched {
			return
		}
	default:
		return
	}
	n := len(t)
	hasQuery := bytes.IndexByte(t, '?') >= 0
	t = plugin.AppendEscapedURI(t, t) // the encoded copy follows the raw one
	t = append(t[:0], t[n:]...)
	if q := c.Query(); len(q) > 0 || c.Req.Target()[len(c.Req.Target())-1] == '?' {
		if hasQuery {
			t = append(t, '&')
		} else {
			t = append(t, '?')
		}
		t = append(t, q...)
	}
	c.SetScratch(t)
	c.Edits.SetTarget(c.Keep(t))
}

var _ plugin.Rewriter = (*rewrite)(nil)
