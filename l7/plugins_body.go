package l7

import (
	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/plugin"
)

// bufferedBody is the request body when all of it came with the head (a
// Content-Length body already in the read buffer), for post_arg variables
// in route vars and plugins' expressions (traffic-split's match); nil
// otherwise: the proxy streams bodies and does not hold a request back to
// read one. The view is valid until the body is sent upstream.
func (c *conn) bufferedBody() []byte {
	f := c.req.Framing()
	if f.Kind != codec.BodyLength || f.Length <= 0 {
		return nil
	}
	s := c.start + c.headLen
	if int64(c.end-s) < f.Length {
		return nil
	}
	return c.in[s : s+int(f.Length)]
}

// skipReqBody consumes the request body bytes at the start of p, as
// Body.Skip does, showing their payload to the chain's request body
// readers (loggers' include_req_body) when it has any.
func (c *conn) skipReqBody(p []byte) (int, error) {
	if !c.plugged || !c.pc.ReadsRequestBody() {
		return c.reqBody.Skip(p)
	}
	return skipReading(&c.reqBody, p, &c.pc, (*plugin.Ctx).RequestBody)
}

// skipRespBody is skipReqBody for the response body the proxy forwards
// unfiltered.
func (c *conn) skipRespBody(b *codec.Body, p []byte) (int, error) {
	if !c.plugged || !c.pc.ReadsResponseBody() {
		return b.Skip(p)
	}
	return skipReading(b, p, &c.pc, (*plugin.Ctx).ResponseBody)
}

func skipReading(b *codec.Body, p []byte, pc *plugin.Ctx, show func(*plugin.Ctx, []byte)) (n int, err error) {
	for {
		k, data, err := b.Next(p[n:])
		n += k
		if len(data) > 0 {
			show(pc, data)
		}
		if err != nil || b.Done() || k == 0 || n == len(p) {
			return n, err
		}
	}
}
