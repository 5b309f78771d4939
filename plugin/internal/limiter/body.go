package limiter

import (
	"bytes"
	"encoding/json"
)

// ErrorMsg renders APISIX's {"error_msg": msg} body, with the newline its
// core.response.exit adds; nil for an empty msg, which leaves the server
// its default body for the status. Call it at build time.
func ErrorMsg(msg string) []byte {
	if msg == "" {
		return nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as cjson writes it
	_ = enc.Encode(struct {
		ErrorMsg string `json:"error_msg"`
	}{msg})
	return b.Bytes()
}
