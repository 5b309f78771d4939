package codec_test

import (
	"bytes"
	"fmt"

	"github.com/sluice-gateway/sluice/codec"
)

// A request arrives in two reads, is parsed without copying, gets a new
// Host and a forwarded-for field, and is written out as iovecs; its chunked
// body is then tracked so that the next pipelined request is found.
func Example() {
	reads := []string{
		"POST /orders?id=7 HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive\r\n",
		"Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\nGET /next HTTP/1.1\r\n",
	}
	var buf []byte
	var req codec.Request
	req.Reset()
	n := 0
	for _, r := range reads {
		buf = append(buf, r...)
		var err error
		if n, err = req.Parse(buf); err == codec.ErrNeedMore {
			continue
		} else if err != nil {
			fmt.Println("answer", codec.StatusOf(err))
			return
		}
	}
	fmt.Printf("%s %s host=%s query=%s\n", req.Method(), req.Path(), req.Host(), req.Query())

	var edits codec.Edits
	edits.SetHost([]byte("orders.internal:8080"))
	edits.Add([]byte("X-Forwarded-For"), []byte("192.0.2.1"))
	var w codec.HeadWriter
	fmt.Printf("%q\n", bytes.Join(w.Request(&req, &edits), nil))

	var body codec.Body
	body.Reset(req.Framing(), req.Limits)
	rest := buf[n:]
	for !body.Done() {
		k, data, err := body.Next(rest)
		if err != nil {
			fmt.Println(err)
			return
		}
		if len(data) > 0 {
			fmt.Printf("payload %q\n", data)
		}
		rest = rest[k:]
	}
	fmt.Printf("next message starts %q\n", rest)
	// Output:
	// POST /orders host=shop.example query=id=7
	// "POST /orders?id=7 HTTP/1.1\r\nHost: orders.internal:8080\r\nTransfer-Encoding: chunked\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n"
	// payload "abcd"
	// next message starts "GET /next HTTP/1.1\r\n"
}
