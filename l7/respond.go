package l7

import (
	"strconv"

	"github.com/sluice-gateway/sluice/codec"
)

// cannedResponse is an error answer built once: APISIX's JSON body and the
// status line, with and without Connection: close.
type cannedResponse struct {
	keep, close []byte
	status      int
}

func canned(status int, reason, msg string) cannedResponse {
	body := `{"error_msg":"` + msg + `"}` + "\n"
	head := "HTTP/1.1 " + strconv.Itoa(status) + " " + reason + "\r\n" +
		"Content-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
	return cannedResponse{
		status: status,
		keep:   []byte(head + "\r\n" + body),
		close:  []byte(head + "Connection: close\r\n\r\n" + body),
	}
}

var (
	resp400 = canned(400, "Bad Request", "400 Bad Request")
	resp404 = canned(404, "Not Found", "404 Route Not Found")
	resp408 = canned(408, "Request Timeout", "408 Request Timeout")
	resp413 = canned(413, "Content Too Large", "413 Request Entity Too Large")
	resp414 = canned(414, "URI Too Long", "414 Request-URI Too Large")
	resp431 = canned(431, "Request Header Fields Too Large", "431 Request Header Fields Too Large")
	resp501 = canned(501, "Not Implemented", "501 Not Implemented")
	resp502 = canned(502, "Bad Gateway", "502 Bad Gateway")
	resp504 = canned(504, "Gateway Timeout", "504 Gateway Timeout")
	// A route without an upstream whose plugins did not answer.
	resp503NoUpstream = canned(503, "Service Unavailable", "missing upstream configuration in Route or Service")
)

// forStatus picks the canned answer for a codec error's status.
func forStatus(status int) *cannedResponse {
	switch status {
	case 408:
		return &resp408
	case 413:
		return &resp413
	case 414:
		return &resp414
	case 431:
		return &resp431
	case 501:
		return &resp501
	}
	return &resp400
}

// requestError maps a parse error to its answer.
func requestError(err error) *cannedResponse { return forStatus(codec.StatusOf(err)) }

// Header names and values the proxy writes; never modified.
var (
	hdrXFF        = []byte("X-Forwarded-For")
	hdrXRealIP    = []byte("X-Real-IP")
	hdrXFProto    = []byte("X-Forwarded-Proto")
	hdrXFHost     = []byte("X-Forwarded-Host")
	hdrConnection = []byte("Connection")
	valHTTP       = []byte("http")
	valClose      = []byte("close")
	commaSpace    = []byte(", ")
)
