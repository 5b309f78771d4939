// Package responserewrite is APISIX's response-rewrite: change the answer
// the client gets — its status, header fields (add, set, remove; values
// may hold nginx variables) and its whole body — when the response's vars
// expression holds (status and upstream_status among the variables). It
// applies to the upstream's answers and to those other plugins stop with.
//
// Priority 899, header_filter and body_filter phases. A chain with this
// plugin sends bodies chunked (the length is no longer known); a rewritten
// body replaces the upstream's, which is read and dropped.
package responserewrite

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"

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
			"headers": ` + plugin.HeaderOpsSchema + `,
			"vars": {"type": "array"}
		},
		"dependencies": {"body_base64": ["body"]},
		"additionalProperties": false
	}`,
	New: newRewrite,
}

// Config is response-rewrite's config. APISIX's filters (regex edits of
// the body) are not supported: the schema refuses them by name.
type Config struct {
	StatusCode int             `json:"status_code"`
	Body       *string         `json:"body"`
	BodyBase64 bool            `json:"body_base64"`
	Headers    json.RawMessage `json:"headers"`
	Vars       []any           `json:"vars"`
}

type rewrite struct {
	status  int
	reason  []byte
	body    []byte
	hasBody bool
	headers *plugin.HeaderOps
	vars    *route.Expr
}

// on says whether this response is being rewritten, and whether the body
// went out already.
type on struct{ yes, sent bool }

func newRewrite(_ *plugin.Build, data []byte) (any, error) {
	var conf Config
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	p := &rewrite{status: conf.StatusCode}
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
	c.ApplyHeaders(p.headers, &c.RespEdits)
}

// BodyFilter replaces the body when this response is rewritten.
func (p *rewrite) BodyFilter(c *plugin.Ctx, chunk []byte, last bool) []byte {
	st := plugin.State[on](c)
	if !st.yes || !p.hasBody {
		return chunk
	}
	if st.sent {
		return nil
	}
	st.sent = true
	return p.body
}

var (
	_ plugin.HeaderFilter = (*rewrite)(nil)
	_ plugin.BodyFilter   = (*rewrite)(nil)
)
