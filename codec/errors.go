package codec

import "errors"

// ErrNeedMore means the buffer ends inside a head, a chunk-size line or a
// trailer line. Call again with the same bytes plus more appended: the parser
// keeps its place and does not rescan what it has already checked.
var ErrNeedMore = errors.New("codec: need more data")

// Error is a malformed or refused message. Status is what a server should
// answer a client whose request failed this way; the connection must then be
// closed, because after a framing error the next message's start is unknown.
// On the response side every Error means the upstream is broken and the proxy
// answers 502 instead, whatever Status says: raw bytes are never passed on.
//
// Errors are package-level values so that failing costs no allocation; compare
// them with errors.Is or ==.
type Error struct {
	status int
	text   string
}

func (e *Error) Error() string { return e.text }

// Status is the HTTP status code to send to the client.
func (e *Error) Status() int { return e.status }

// StatusOf returns the status to send for err: the Error's status, or 400 for
// anything else, since an unclassified parse failure is still the client's.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.status
	}
	return 400
}

func newError(status int, text string) *Error { return &Error{status: status, text: text} }

var (
	// ErrRequestLineTooLong: the request line exceeds Limits.MaxRequestLine.
	ErrRequestLineTooLong = newError(414, "codec: request line too long")
	// ErrHeaderTooLarge: the field section exceeds Limits.MaxHeaderBytes.
	ErrHeaderTooLarge = newError(431, "codec: header section too large")
	// ErrTooManyFields: more field lines than Limits.MaxFields.
	ErrTooManyFields = newError(431, "codec: too many header fields")
	// ErrBadRequestLine: the request line is not method SP target SP version.
	ErrBadRequestLine = newError(400, "codec: malformed request line")
	// ErrBadMethod: the method has a byte that is not a token character.
	ErrBadMethod = newError(400, "codec: invalid method")
	// ErrUnknownMethod: a well-formed method that is not registered
	// (RFC 9110 §9.1 says 501); Limits.ExtensionMethods lifts this.
	ErrUnknownMethod = newError(501, "codec: method not implemented")
	// ErrBadTarget: the request-target is not valid in the form the method needs.
	ErrBadTarget = newError(400, "codec: invalid request target")
	// ErrBadVersion: the HTTP-version is not "HTTP/" DIGIT "." DIGIT.
	ErrBadVersion = newError(400, "codec: malformed HTTP version")
	// ErrVersionNotSupported: a well-formed version whose major is not 1.
	ErrVersionNotSupported = newError(505, "codec: HTTP version not supported")
	// ErrBadStatusLine: a response's status line is malformed.
	ErrBadStatusLine = newError(502, "codec: malformed status line")
	// ErrBareLF: a line ends in LF without CR (RFC 9112 §2.2).
	ErrBareLF = newError(400, "codec: bare LF")
	// ErrBareCR: a CR not followed by LF (RFC 9112 §2.2).
	ErrBareCR = newError(400, "codec: bare CR")
	// ErrObsFold: a field line starts with whitespace: line folding, or
	// whitespace before the first field (RFC 9112 §5.2, §2.2).
	ErrObsFold = newError(400, "codec: obsolete line folding")
	// ErrBadFieldName: a field name is empty or has a non-token byte.
	ErrBadFieldName = newError(400, "codec: invalid field name")
	// ErrSpaceBeforeColon: whitespace between field name and colon (RFC 9112 §5.1).
	ErrSpaceBeforeColon = newError(400, "codec: whitespace before colon")
	// ErrBadFieldValue: a field value holds NUL, CR, LF, DEL or another control byte.
	ErrBadFieldValue = newError(400, "codec: invalid field value")
	// ErrMissingHost: an HTTP/1.1 request without Host (RFC 9112 §3.2).
	ErrMissingHost = newError(400, "codec: missing Host")
	// ErrDuplicateHost: more than one Host field line (RFC 9112 §3.2).
	ErrDuplicateHost = newError(400, "codec: duplicate Host")
	// ErrBadHost: a Host value that is not uri-host [":" port].
	ErrBadHost = newError(400, "codec: invalid Host")
	// ErrBadContentLength: a Content-Length that is not 1*DIGIT or overflows int64.
	ErrBadContentLength = newError(400, "codec: invalid Content-Length")
	// ErrDuplicateContentLength: Content-Length given more than once, even
	// with equal values: a proxy must not guess which one a peer will use.
	ErrDuplicateContentLength = newError(400, "codec: duplicate Content-Length")
	// ErrLengthAndChunked: both Content-Length and Transfer-Encoding, the
	// classic request-smuggling shape (RFC 9112 §6.3 item 3).
	ErrLengthAndChunked = newError(400, "codec: Content-Length with Transfer-Encoding")
	// ErrBadTransferEncoding: chunked is not the final coding, is applied
	// twice, the list is empty, or the message is HTTP/1.0 (RFC 9112 §6.1, §6.3).
	ErrBadTransferEncoding = newError(400, "codec: invalid Transfer-Encoding")
	// ErrUnsupportedTransferEncoding: a transfer coding other than chunked
	// (RFC 9112 §6.1 says 501).
	ErrUnsupportedTransferEncoding = newError(501, "codec: unsupported transfer coding")
	// ErrBodyTooLarge: the body is longer than Limits.MaxBodySize.
	ErrBodyTooLarge = newError(413, "codec: body too large")
	// ErrConnectBody: a CONNECT request with Content-Length or
	// Transfer-Encoding; CONNECT has no content (RFC 9110 §9.3.6).
	ErrConnectBody = newError(400, "codec: CONNECT with framing fields")
	// ErrBadChunkSize: a chunk size that is not 1*HEXDIG or overflows int64.
	ErrBadChunkSize = newError(400, "codec: invalid chunk size")
	// ErrBadChunkExtension: a malformed chunk extension.
	ErrBadChunkExtension = newError(400, "codec: invalid chunk extension")
	// ErrChunkLineTooLong: a chunk-size line exceeds Limits.MaxChunkLine.
	ErrChunkLineTooLong = newError(400, "codec: chunk-size line too long")
	// ErrBadChunkData: chunk data not followed by CRLF.
	ErrBadChunkData = newError(400, "codec: chunk data not followed by CRLF")
)
