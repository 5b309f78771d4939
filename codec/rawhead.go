package codec

// Head returns the parsed request head as received: the bytes Parse
// consumed, which parse again to the same request. View: valid until the
// buffer is reused.
func (r *Request) Head() []byte { return r.buf[:r.end:r.end] }

// Head returns the parsed response head as received, like Request.Head.
func (r *Response) Head() []byte { return r.buf[:r.end:r.end] }
