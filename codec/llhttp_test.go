package codec

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// llhttpCase is one line of cases.jsonl (see ../shared/conformance/README.md).
type llhttpCase struct {
	ID               string          `json:"id"`
	Kind             string          `json:"kind"`
	Input            string          `json:"input_b64"`
	LLHTTPError      json.RawMessage `json:"llhttp_error"`
	Lenient          bool            `json:"lenient"`
	MessagesComplete int             `json:"messages_complete"`
	PauseOrUpgrade   bool            `json:"pause_or_upgrade"`
	UnsupportedJS    bool            `json:"unsupported_js"`
}

// llhttpRejects: llhttp in strict mode refuses the input. A case that needs
// a lenient flag to pass is one strict llhttp refuses.
func (c *llhttpCase) llhttpRejects() bool {
	return c.Lenient || len(c.LLHTTPError) > 0 && string(c.LLHTTPError) != "null"
}

// driveResult is what a proxy built on the codec does with an input.
type driveResult struct {
	err       error // the message was refused with this error
	discarded bool  // bytes followed a message that closes the connection
	complete  int   // messages whose head and body were complete
}

func (d driveResult) rejected() bool { return d.err != nil || d.discarded }

// drive runs in through the codec the way the L7 proxy will: head, body,
// next message, until the input runs out, a tunnel starts or a message
// that closes the connection is done (whatever follows it is never read).
func drive(kind string, in []byte) driveResult {
	var res driveResult
	var req Request
	var resp Response
	var body Body
	for len(in) > 0 {
		var n int
		var err error
		var f Framing
		var keepAlive, tunnel bool
		if kind == "request" {
			req.Reset()
			n, err = req.Parse(in)
			f, keepAlive = req.Framing(), req.KeepAlive()
			tunnel = req.Upgrade() || req.MethodID() == MethodConnect
		} else {
			resp.Reset()
			n, err = resp.Parse(in)
			f, keepAlive = resp.Framing(), resp.KeepAlive()
			tunnel = f.Kind == BodyTunnel
		}
		if err == ErrNeedMore {
			return res
		}
		if err != nil {
			res.err = err
			return res
		}
		in = in[n:]
		body.Reset(f, Limits{})
		switch f.Kind {
		case BodyTunnel:
			res.complete++ // the head is the whole HTTP message
			return res
		case BodyUntilClose:
			return res
		}
		k, err := body.Skip(in)
		in = in[k:]
		if err != nil && err != ErrNeedMore {
			res.err = err
			return res
		}
		if !body.Done() {
			return res
		}
		res.complete++
		if tunnel {
			return res
		}
		if !keepAlive && len(in) > 0 {
			res.discarded = true
			return res
		}
	}
	return res
}

// Rules that make us stricter than llhttp.
const (
	ruleFragment    = "RFC 9112 §3.2: a request-target has no fragment (origin-form = absolute-path [\"?\" query]); '#' would split differently upstream"
	ruleUserinfo    = "RFC 9110 §4.2.4: userinfo in an http(s) URI must be treated as an error"
	ruleAsterisk    = "RFC 9112 §3.2.4: asterisk-form is only for server-wide OPTIONS"
	ruleHTTPName    = "RFC 9112 §2.3: HTTP-version = \"HTTP\" \"/\" DIGIT \".\" DIGIT; RTSP and ICE are other protocols"
	ruleHTTP09      = "RFC 9112 §3/§2.3: the request-line requires an HTTP-version; HTTP/0.9 is not supported"
	ruleResp09      = "RFC 9112 §2.3: only HTTP/1.x has this wire format; an HTTP/0.9 status line is invalid (502)"
	rulePRI         = "RFC 9113 §3.4: PRI is the HTTP/2 connection preface, not an HTTP/1.1 method; unimplemented methods get 501 (RFC 9110 §9.1)"
	ruleConnect     = "RFC 9110 §9.3.6: a CONNECT request has no content; framing fields on it are a smuggling risk"
	ruleRespTE      = "RFC 9112 §6.3 item 4 would read this response until close; a proxy cannot re-frame a coding it does not decode, so it answers 502 instead"
	ruleZoneID      = "RFC 3986 §2.1 and RFC 6874 §2: '%' must start \"%\" HEXDIG HEXDIG; a zone ID is introduced by %25"
	ruleMissingHost = "RFC 9112 §3.2: an HTTP/1.1 request without Host gets 400"
)

// stricter lists every llhttp case llhttp accepts and we refuse for a reason
// other than a missing Host, with the error we give and the rule.
var stricter = map[string]struct {
	err  error
	rule string
}{
	"url.md:229":                        {ErrBadTarget, ruleZoneID},
	"url.md:3":                          {ErrBadTarget, ruleFragment},
	"url.md:17":                         {ErrBadTarget, ruleFragment},
	"url.md:127":                        {ErrBadTarget, ruleFragment},
	"url.md:138":                        {ErrBadTarget, ruleFragment},
	"url.md:153":                        {ErrBadTarget, ruleFragment},
	"url.md:167":                        {ErrBadTarget, ruleUserinfo},
	"url.md:193":                        {ErrBadTarget, ruleUserinfo},
	"url.md:205":                        {ErrBadTarget, ruleUserinfo},
	"request/uri.md:165":                {ErrBadTarget, ruleFragment},
	"request/uri.md:222":                {ErrBadTarget, ruleUserinfo},
	"request/transfer-encoding.md:751":  {ErrBadTarget, ruleFragment},
	"request/transfer-encoding.md:793":  {ErrBadTarget, ruleFragment},
	"request/method.md:135":             {ErrBadTarget, ruleAsterisk},
	"request/method.md:372":             {ErrBadVersion, ruleHTTPName},
	"request/method.md:400":             {ErrBadVersion, ruleHTTPName},
	"request/method.md:430":             {ErrBadVersion, ruleHTTPName},
	"response/sample.md:40":             {ErrBadVersion, ruleHTTPName},
	"response/sample.md:60":             {ErrBadVersion, ruleHTTPName},
	"request/sample.md:314":             {ErrBadRequestLine, ruleHTTP09},
	"response/sample.md:645":            {ErrVersionNotSupported, ruleResp09},
	"request/method.md:458":             {ErrUnknownMethod, rulePRI},
	"request/method.md:96":              {ErrConnectBody, ruleConnect},
	"response/transfer-encoding.md:43":  {ErrBadTransferEncoding, ruleRespTE},
	"response/transfer-encoding.md:74":  {ErrBadTransferEncoding, ruleRespTE},
	"response/transfer-encoding.md:110": {ErrUnsupportedTransferEncoding, ruleRespTE},
}

// skipBody lists fixtures whose harness tells llhttp to skip bodies (the
// "skipBody" meta, which cases.jsonl does not carry), so its message count
// is not comparable.
var skipBody = map[string]bool{
	"request/content-length.md:444":  true,
	"response/content-length.md:123": true,
}

// withHost gives every HTTP/1.1 request line in in a Host field, so that a
// fixture written without one still tests everything after it.
func withHost(in []byte) []byte {
	return bytes.ReplaceAll(in, []byte(" HTTP/1.1\r\n"), []byte(" HTTP/1.1\r\nHost: h\r\n"))
}

var llhttpPath = filepath.Join("..", "..", "shared", "conformance", "llhttp", "cases.jsonl")

func loadLLHTTP(t *testing.T) []llhttpCase {
	cases, err := readLLHTTP()
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("llhttp corpus not found at %s", llhttpPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

// loadLLHTTPIfPresent feeds fuzz seeds; without the corpus there are fewer.
func loadLLHTTPIfPresent() []llhttpCase {
	cases, _ := readLLHTTP()
	return cases
}

func readLLHTTP() ([]llhttpCase, error) {
	f, err := os.Open(llhttpPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cases []llhttpCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c llhttpCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, sc.Err()
}

func decodeB64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

func TestLLHTTPCorpus(t *testing.T) {
	cases := loadLLHTTP(t)
	seen := map[string]bool{}
	var matched, strict, missingHost, skipped int
	for _, c := range cases {
		if c.UnsupportedJS {
			skipped++
			continue
		}
		in, err := base64.StdEncoding.DecodeString(c.Input)
		if err != nil {
			t.Fatal(c.ID, err)
		}
		kind := c.Kind
		if kind == "url" {
			// URL fixtures test the request-target alone.
			in = append(append([]byte("GET "), in...), " HTTP/1.1\r\nHost: h\r\n\r\n"...)
			kind = "request"
		}
		got := drive(kind, in)
		hostAdded := false
		if got.err == ErrMissingHost {
			// Check the rest of the fixture as if it had a Host: a missing
			// Host must not be what hides a wrong answer further on.
			hostAdded = true
			if !c.llhttpRejects() {
				t.Logf("%s: stricter: %v: %s", c.ID, got.err, ruleMissingHost)
			}
			in = withHost(in)
			got = drive(kind, in)
		}
		s, listed := stricter[c.ID]
		seen[c.ID] = listed
		switch {
		case c.llhttpRejects() && !got.rejected():
			t.Errorf("%s: llhttp rejects %q, we accept", c.ID, in)
		case c.llhttpRejects():
			matched++
			if listed {
				t.Errorf("%s: listed as stricter but llhttp rejects it too", c.ID)
			}
		case !got.rejected():
			if hostAdded {
				missingHost++
			} else {
				matched++
			}
			if listed {
				t.Errorf("%s: listed as stricter (%s) but we accept it", c.ID, s.rule)
			}
			// Same message boundaries as llhttp, except that llhttp counts a
			// tunnel's head as a message and we count it once too.
			if c.Kind != "url" && !skipBody[c.ID] && got.complete != c.MessagesComplete {
				t.Errorf("%s: %d complete messages, llhttp saw %d in %q", c.ID, got.complete, c.MessagesComplete, in)
			}
		case !listed:
			t.Errorf("%s: we reject %q (%v, discarded=%v), llhttp accepts; add the rule to stricter", c.ID, in, got.err, got.discarded)
		case got.err != s.err:
			t.Errorf("%s: we reject with %v, stricter says %v", c.ID, got.err, s.err)
		default:
			strict++
			t.Logf("%s: stricter: %v: %s", c.ID, s.err, s.rule)
		}
	}
	for id := range stricter {
		if _, ok := seen[id]; !ok {
			t.Errorf("stricter lists %s, which is not in the corpus", id)
		}
	}
	t.Logf("llhttp corpus: %d cases: %d same outcome as llhttp, %d stricter by a listed rule, "+
		"%d stricter only by %q (same outcome once given a Host), %d skipped (JS-only hooks)",
		len(cases), matched, strict, missingHost, ruleMissingHost, skipped)
}
