package batchlog

import (
	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/route"
)

// The logger plugins' hooks. Conditions (file-logger's match, the bodies'
// _expr) read the request's variables. For a request without a body they
// are decided on the loop, where APISIX decides them; for one with a body
// the server may overwrite the request head while it streams the body, so
// what needs the response (match, include_resp_body_expr) is decided by
// the logger's goroutine, on the head saved in access (the response body
// is copied meanwhile, and left out if the condition does not hold).

// Access keeps the head of a request with a body, and starts capturing
// its body when the logger includes it.
func (l *Logger) Access(c *plugin.Ctx) {
	SaveHead(c)
	cp := &l.opts.Capture
	if cp.Req && holds(c, cp.ReqExpr) {
		if r := l.startCapture(plugin.State[saved](c)); r != nil {
			r.HasReqBody = true
		}
	}
}

// RequestBody copies the request body, up to max_req_body_bytes.
func (l *Logger) RequestBody(c *plugin.Ctx, chunk []byte) {
	if r := plugin.State[saved](c).rec; r != nil && r.HasReqBody {
		r.appendBody(&r.ReqBody, chunk, l.opts.Capture.MaxReq)
	}
}

// HeaderFilter keeps the upstream's response head, and starts capturing
// the response body when the logger includes it.
func (l *Logger) HeaderFilter(c *plugin.Ctx) {
	SaveResponse(c)
	cp := &l.opts.Capture
	if !cp.Resp || c.Resp == nil {
		return
	}
	later := cp.RespExpr != nil && !bodiless(c)
	if later || holds(c, cp.RespExpr) {
		if r := l.startCapture(plugin.State[saved](c)); r != nil {
			r.HasRespBody, r.RespMax, r.respLater = true, cp.MaxResp, later
		}
	}
}

// ResponseBody copies the response body, up to max_resp_body_bytes.
func (l *Logger) ResponseBody(c *plugin.Ctx, chunk []byte) {
	if r := plugin.State[saved](c).rec; r != nil && r.HasRespBody {
		r.appendBody(&r.RespBody, chunk, r.RespMax)
	}
}

// Log queues the entry, unless match says otherwise.
func (l *Logger) Log(c *plugin.Ctx) {
	later := false
	if len(l.opts.Match) > 0 {
		if !bodiless(c) {
			later = true
		} else if !l.matches(c) {
			if sv := plugin.State[saved](c); sv.rec != nil {
				l.put(sv.rec)
				sv.rec = nil
			}
			return
		}
	}
	l.push(c, later)
}

// matches is file-logger's match: one of the expressions holds.
func (l *Logger) matches(c *plugin.Ctx) bool {
	for _, x := range l.opts.Match {
		if c.Eval(x) {
			return true
		}
	}
	return false
}

// decide settles, on the logger's goroutine, what the loop left to it:
// whether the entry is logged at all and whether it keeps its response
// body. The request is the head saved in access, parsed again.
func (l *Logger) decide(r *Record) bool {
	if !r.matchLater && !r.respLater {
		return true
	}
	st := &l.st
	st.parse(r)
	c := st.context(r)
	if r.matchLater && !l.matches(c) {
		return false
	}
	if r.respLater && !c.Eval(l.opts.Capture.RespExpr) {
		r.HasRespBody = false
	}
	return true
}

func bodiless(c *plugin.Ctx) bool { return c.Req == nil || c.Req.Framing().Kind == codec.BodyNone }

func holds(c *plugin.Ctx, x *route.Expr) bool { return x == nil || c.Eval(x) }
