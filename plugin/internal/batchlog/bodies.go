package batchlog

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/route"
)

// BodySchema is the JSON Schema properties of Bodies, for a plugin's
// schema: APISIX's include_req_body, include_resp_body, their _expr
// conditions and max_*_body_bytes caps.
const BodySchema = `
	"include_req_body": {"type": "boolean", "default": false},
	"include_req_body_expr": {"type": "array", "minItems": 1, "items": {"type": "array"}},
	"include_resp_body": {"type": "boolean", "default": false},
	"include_resp_body_expr": {"type": "array", "minItems": 1, "items": {"type": "array"}},
	"max_req_body_bytes": {"type": "integer", "minimum": 1, "default": 524288},
	"max_resp_body_bytes": {"type": "integer", "minimum": 1, "default": 524288}`

// Bodies is a logger's body settings, as configured.
type Bodies struct {
	IncludeReq  bool  `json:"include_req_body"`
	ReqExpr     []any `json:"include_req_body_expr"`
	IncludeResp bool  `json:"include_resp_body"`
	RespExpr    []any `json:"include_resp_body_expr"`
	MaxReq      int   `json:"max_req_body_bytes"`
	MaxResp     int   `json:"max_resp_body_bytes"`
}

// DefaultBodies is APISIX's defaults: no bodies, 512 KiB caps.
func DefaultBodies() Bodies { return Bodies{MaxReq: 512 << 10, MaxResp: 512 << 10} }

// Capture is what a logger copies of the bodies, decided at build time.
type Capture struct {
	// Req and Resp: the body is copied (up to MaxReq/MaxResp bytes) for
	// requests whose ReqExpr/RespExpr holds (nil: all).
	Req, Resp         bool
	ReqExpr, RespExpr *route.Expr
	MaxReq, MaxResp   int
}

// Any reports whether anything is captured: the plugin then reads bodies.
func (c *Capture) Any() bool { return c.Req || c.Resp }

// CompileCapture decides what f needs of the bodies: the full log shows
// them when included; a log_format (or log_format_extra) has them only
// through $request_body, which, as in APISIX, copies the request body
// whatever include_req_body says.
func CompileCapture(b Bodies, f *Format) (Capture, error) {
	c := Capture{MaxReq: b.MaxReq, MaxResp: b.MaxResp}
	if c.MaxReq <= 0 {
		c.MaxReq = 512 << 10
	}
	if c.MaxResp <= 0 {
		c.MaxResp = 512 << 10
	}
	c.Req = !f.Custom() && b.IncludeReq || f.usesRequestBody()
	c.Resp = !f.Custom() && b.IncludeResp
	if len(b.ReqExpr) > 0 {
		x, err := route.CompileExpr(b.ReqExpr)
		if err != nil {
			return c, fmt.Errorf("include_req_body_expr: %v", err)
		}
		// With a log_format, $request_body has the body whatever the
		// condition says, as in APISIX.
		if !f.Custom() {
			c.ReqExpr = x
		}
	}
	if len(b.RespExpr) > 0 {
		x, err := route.CompileExpr(b.RespExpr)
		if err != nil {
			return c, fmt.Errorf("include_resp_body_expr: %v", err)
		}
		c.RespExpr = x
	}
	return c, nil
}

// DefaultBodyBudget bounds the body bytes all loggers hold at once, in
// records being filled, queued or formatted: past it, an entry that would
// add more is dropped and counted (Stats.Dropped), as when a queue is
// full, so a stalled receiver costs log entries, never unbounded memory.
const DefaultBodyBudget = 64 << 20

// bodyBudget is the bound when set (tests), else DefaultBodyBudget.
var bodyBudget, bodyBytes atomic.Int64

func budget() int64 {
	if b := bodyBudget.Load(); b > 0 {
		return b
	}
	return DefaultBodyBudget
}

// SetBodyBudget changes the bound (tests; 0: the default), returning the
// old one.
func SetBodyBudget(n int64) int64 { return bodyBudget.Swap(n) }

// keepBody is the largest body buffer a pooled record keeps for reuse.
const keepBody = 64 << 10

// startCapture takes the request's record now (the bodies go straight
// into it) and marks what it captures; nil when the pool is exhausted
// (the entry will be dropped at Push anyway).
func (q *Queue) startCapture(sv *saved) *Record {
	if sv.rec == nil {
		r := q.get()
		if r == nil {
			return nil
		}
		r.resetBodies()
		sv.rec = r
	}
	return sv.rec
}

// appendBody copies what fits under max (and the budget) of chunk.
func (r *Record) appendBody(dst *[]byte, chunk []byte, max int) {
	n := min(len(chunk), max-len(*dst))
	if n <= 0 || r.drop {
		return
	}
	if bodyBytes.Add(int64(n)) > budget() {
		bodyBytes.Add(-int64(n))
		r.drop = true
		return
	}
	r.charged += int64(n)
	*dst = append(*dst, chunk[:n]...)
}

func (r *Record) resetBodies() {
	r.ReqBody, r.RespBody = r.ReqBody[:0], r.RespBody[:0]
	r.HasReqBody, r.HasRespBody, r.drop = false, false, false
	r.matchLater, r.respLater = false, false
}

// releaseBodies gives the record's body bytes back to the budget, and
// a big buffer back to the GC rather than to the pool.
func (r *Record) releaseBodies() {
	if r.charged != 0 {
		bodyBytes.Add(-r.charged)
		r.charged = 0
	}
	if cap(r.ReqBody) > keepBody {
		r.ReqBody = nil
	}
	if cap(r.RespBody) > keepBody {
		r.RespBody = nil
	}
	r.resetBodies()
}

// gunzipped is the response body decoded when the upstream sent it gzip
// encoded, as APISIX logs it (at most max bytes); the body as it came when
// it is not, or does not decode (cut at max_resp_body_bytes, say).
func gunzipped(body []byte, resp *codec.Response, max int) []byte {
	enc, ok := resp.Get("Content-Encoding")
	if !ok || !bytes.EqualFold(bytes.TrimSpace(enc), []byte("gzip")) {
		return body
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return body
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(max)))
	if err != nil && err != io.ErrUnexpectedEOF {
		return body
	}
	return out
}
