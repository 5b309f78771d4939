// Package redirect is APISIX's redirect: answer with a redirect instead of
// proxying — to a URI template with nginx variables ("$uri/index.html",
// "https://example.com${request_uri}"), to the rewrite of a regex_uri that
// matches (substituted as ngx.re.sub does; a request it does not match is
// proxied), or from HTTP to HTTPS (http_to_https: 301 for GET and HEAD,
// 308 for other methods, to config.yaml's plugin_attr.redirect.https_port
// when set and not 443; a request that came over TLS, or with
// X-Forwarded-Proto: https, is proxied).
//
// Priority 900, rewrite phase. The Location is rendered into request
// scratch. A static uri allocates nothing; a regex_uri that matches costs
// Go's regexp one allocation (the submatch indexes), documented in the
// alloc test; one that does not match costs none.
package redirect

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/plugin"
)

// Def registers redirect.
var Def = plugin.Def{
	Name:     "redirect",
	Priority: 900,
	Schema: `{
		"type": "object",
		"properties": {
			"ret_code": {"type": "integer", "minimum": 200, "default": 302},
			"uri": {"type": "string", "minLength": 2},
			"regex_uri": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string"}},
			"http_to_https": {"type": "boolean"},
			"encode_uri": {"type": "boolean", "default": false},
			"append_query_string": {"type": "boolean", "default": false}
		},
		"additionalProperties": false
	}`,
	New: newRedirect,
}

// Config is redirect's config.
type Config struct {
	RetCode           int      `json:"ret_code"`
	URI               string   `json:"uri"`
	RegexURI          []string `json:"regex_uri"`
	HTTPToHTTPS       bool     `json:"http_to_https"`
	EncodeURI         bool     `json:"encode_uri"`
	AppendQueryString bool     `json:"append_query_string"`
}

var (
	hdrLocation = []byte("Location")
	empty       = []byte{}
	hostVar     = plugin.ParseVar("host")
	schemeVar   = plugin.ParseVar("scheme")
	valHTTPS    = []byte("https")
)

type redirect struct {
	code     int
	uri      *plugin.Template
	sub      *plugin.RegexSub
	toHTTPS  bool
	port     string // ":<https_port>", or empty for 443
	encode   bool
	appendQS bool
}

func newRedirect(b *plugin.Build, data []byte) (any, error) {
	conf := Config{RetCode: 302}
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	r := &redirect{code: conf.RetCode, encode: conf.EncodeURI, appendQS: conf.AppendQueryString, toHTTPS: conf.HTTPToHTTPS}
	set := 0
	for _, on := range []bool{conf.HTTPToHTTPS, conf.URI != "", len(conf.RegexURI) > 0} {
		if on {
			set++
		}
	}
	if set != 1 {
		return nil, errors.New("set exactly one of uri, regex_uri and http_to_https")
	}
	if conf.HTTPToHTTPS && conf.AppendQueryString {
		return nil, errors.New("http_to_https keeps the query string already: append_query_string cannot be set with it")
	}
	var err error
	switch {
	case conf.HTTPToHTTPS:
		// APISIX's port: plugin_attr.redirect.https_port (it falls back to
		// one of its own TLS listeners, which sluice does not have).
		if b.Config != nil {
			if p := b.Config.PluginAttr.Redirect.HTTPSPort; p > 0 && p != 443 {
				r.port = ":" + strconv.Itoa(p)
			}
		}
	case conf.URI != "":
		if r.uri, err = plugin.CompileTemplate(conf.URI); err != nil {
			return nil, fmt.Errorf("uri: %v", err)
		}
	default:
		if r.sub, err = plugin.CompileRegexSub(conf.RegexURI[0], conf.RegexURI[1]); err != nil {
			return nil, fmt.Errorf("regex_uri: %v", err)
		}
	}
	return r, nil
}

// Rewrite answers with the redirect.
func (r *redirect) Rewrite(c *plugin.Ctx) plugin.Result {
	loc := c.Scratch()
	code := r.code
	switch {
	case r.toHTTPS:
		proto, ok := c.Header("X-Forwarded-Proto")
		if !ok {
			proto, _ = c.Get(&schemeVar)
		}
		if bytes.Equal(proto, valHTTPS) {
			return plugin.Continue
		}
		code = 308 // keeps the method and body, unlike 301
		if m := c.Req.MethodID(); m == codec.MethodGet || m == codec.MethodHead {
			code = 301
		}
		loc = append(loc, "https://"...)
		if h, ok := c.Get(&hostVar); ok {
			loc = append(loc, h...)
		}
		loc = append(loc, r.port...)
		loc = append(loc, c.Req.Target()...)
	case r.uri != nil:
		loc = c.Append(loc, r.uri)
	default:
		var idx []int
		if loc, idx = r.sub.Append(loc, c.Req.Path()); idx == nil {
			return plugin.Continue
		}
	}
	q := bytes.IndexByte(loc, '?')
	if r.encode {
		// The path part only, as APISIX encodes it.
		end := len(loc)
		if q >= 0 {
			end = q
		}
		n := len(loc)
		loc = plugin.AppendEscapedURI(loc, loc[:end])
		loc = append(loc, loc[end:n]...)
		loc = append(loc[:0], loc[n:]...)
		q = bytes.IndexByte(loc, '?')
	}
	if t := c.Req.Target(); r.appendQS && bytes.IndexByte(t, '?') >= 0 {
		sep := byte('?')
		if q >= 0 {
			sep = '&'
		}
		loc = append(append(loc, sep), c.Req.Query()...)
	}
	c.SetScratch(loc)
	c.RespEdits.Set(hdrLocation, c.Keep(loc))
	return plugin.Stop(code, empty)
}

var _ plugin.Rewriter = (*redirect)(nil)
