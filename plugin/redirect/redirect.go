// Package redirect is APISIX's redirect: answer with a redirect instead of
// proxying — to a URI template with nginx variables ("$uri/index.html",
// "https://example.com${request_uri}"), to the rewrite of a regex_uri that
// matches (a request it does not match is proxied), or from HTTP to HTTPS
// (http_to_https, 301).
//
// Priority 900, rewrite phase. The Location is rendered into request
// scratch. A static uri allocates nothing; a regex_uri that matches costs
// Go's regexp one allocation (the submatch indexes), documented in the
// alloc test; one that does not match costs none.
package redirect

import (
	"errors"
	"fmt"
	"regexp"

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
)

type redirect struct {
	code     int
	uri      *plugin.Template
	re       *regexp.Regexp
	repl     []byte
	toHTTPS  bool
	encode   bool
	appendQS bool
}

func newRedirect(_ *plugin.Build, data []byte) (any, error) {
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
		r.code = 301 // APISIX's, whatever ret_code says
	case conf.URI != "":
		if r.uri, err = plugin.CompileTemplate(conf.URI); err != nil {
			return nil, fmt.Errorf("uri: %v", err)
		}
	default:
		if r.re, err = regexp.Compile(conf.RegexURI[0]); err != nil {
			return nil, fmt.Errorf("regex_uri[0]: %v", err)
		}
		r.repl = []byte(conf.RegexURI[1])
	}
	return r, nil
}

// Rewrite answers with the redirect.
func (r *redirect) Rewrite(c *plugin.Ctx) plugin.Result {
	loc := c.Scratch()
	switch {
	case r.toHTTPS:
		loc = append(loc, "https://"...)
		if h, ok := c.Get(&hostVar); ok {
			loc = append(loc, h...)
		}
		loc = append(loc, c.Req.Target()...)
	case r.uri != nil:
		loc = c.Append(loc, r.uri)
	default:
		path := c.Req.Path()
		if !r.re.Match(path) {
			return plugin.Continue
		}
		m := r.re.FindSubmatchIndex(path)
		loc = r.re.Expand(loc, r.repl, path, m)
	}
	if r.encode {
		n := len(loc)
		loc = plugin.AppendEscapedURI(loc, loc)
		loc = append(loc[:0], loc[n:]...)
	}
	if r.appendQS {
		if q := c.Req.Query(); len(q) > 0 {
			sep := byte('?')
			for _, b := range loc {
				if b == '?' {
					sep = '&'
					break
				}
			}
			loc = append(append(loc, sep), q...)
		}
	}
	c.SetScratch(loc)
	c.RespEdits.Set(hdrLocation, c.Keep(loc))
	return plugin.Stop(r.code, empty)
}

var _ plugin.Rewriter = (*redirect)(nil)
