package plugin

// Body readers see a request's bodies stream through the proxy, decoded,
// chunk by chunk, without changing them: unlike a BodyFilter, a response
// body reader leaves the response's framing alone. Loggers use them to
// copy (a capped part of) the bodies. A chunk is a view into the
// connection's buffers, valid during the call: copy what you keep. They
// cannot stop the request; the log phase follows the last chunk.
type (
	// RequestBodyReader sees the request body as it goes upstream.
	RequestBodyReader interface{ RequestBody(c *Ctx, chunk []byte) }
	// ResponseBodyReader sees the response body as it goes to the client
	// (after the body filters, when the route has some).
	ResponseBodyReader interface{ ResponseBody(c *Ctx, chunk []byte) }
)

// ReadsRequestBody reports whether the request's chain has request body
// readers (the server then shows them the body it sends upstream).
func (c *Ctx) ReadsRequestBody() bool {
	return c.chain != nil && len(c.chain.hooks[PhaseRequestBody]) > 0
}

// ReadsResponseBody reports whether the request's chain has response body
// readers.
func (c *Ctx) ReadsResponseBody() bool {
	return c.chain != nil && len(c.chain.hooks[PhaseResponseBody]) > 0
}

// RequestBody shows a decoded chunk of the request body to the readers.
func (c *Ctx) RequestBody(chunk []byte) { c.read(PhaseRequestBody, chunk) }

// ResponseBody shows a decoded chunk of the response body to the readers.
func (c *Ctx) ResponseBody(chunk []byte) { c.read(PhaseResponseBody, chunk) }

func (c *Ctx) read(p Phase, chunk []byte) {
	if c.chain == nil || len(chunk) == 0 {
		return
	}
	hs := c.chain.hooks[p]
	for i := range hs {
		h := &hs[i]
		if h.filter != nil && !c.filtered(h) {
			continue
		}
		c.cur = h.slot
		h.read(c, chunk)
	}
}
