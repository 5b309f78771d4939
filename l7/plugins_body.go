package l7

import "github.com/sluice-gateway/sluice/codec"

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
