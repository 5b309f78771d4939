// Package cors is APISIX's cors: answer CORS preflights (OPTIONS) at the
// gateway and add the Access-Control-* fields to answers for allowed
// origins.
//
// Priority 4000: the rewrite phase answers a preflight with 200, the
// header_filter phase writes the fields on every answer (upstream's or a
// stop's) whose Origin is allowed: "*" for any (without credentials),
// "**" to echo any origin, a comma-separated list, or
// allow_origins_by_regex. An echoed origin comes with "Vary: Origin".
// Header values are made at build time; echoing a request's own values
// takes views into the request: no allocation.
package cors

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/plugin"
)

// Def registers cors.
var Def = plugin.Def{
	Name:     "cors",
	Priority: 4000,
	Schema: `{
		"type": "object",
		"properties": {
			"allow_origins": {"type": "string", "pattern": "^(\\*|\\*\\*|null|\\w+://[^,]+(,\\w+://[^,]+)*)$", "default": "*"},
			"allow_methods": {"type": "string", "default": "*"},
			"allow_headers": {"type": "string", "default": "*"},
			"expose_headers": {"type": "string"},
			"max_age": {"type": "integer", "default": 5},
			"allow_credential": {"type": "boolean", "default": false},
			"allow_origins_by_regex": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {"type": "string", "minLength": 1, "maxLength": 4096}}
		},
		"additionalProperties": false
	}`,
	New: newCORS,
}

// Config is cors's config. APISIX's allow_origins_by_metadata and
// timing_allow_origins are not supported: the schema refuses them.
type Config struct {
	AllowOrigins        string   `json:"allow_origins"`
	AllowMethods        string   `json:"allow_methods"`
	AllowHeaders        string   `json:"allow_headers"`
	ExposeHeaders       *string  `json:"expose_headers"`
	MaxAge              int      `json:"max_age"`
	AllowCredential     bool     `json:"allow_credential"`
	AllowOriginsByRegex []string `json:"allow_origins_by_regex"`
}

var (
	hdrAllowOrigin   = []byte("Access-Control-Allow-Origin")
	hdrAllowMethods  = []byte("Access-Control-Allow-Methods")
	hdrAllowHeaders  = []byte("Access-Control-Allow-Headers")
	hdrExposeHeaders = []byte("Access-Control-Expose-Headers")
	hdrMaxAge        = []byte("Access-Control-Max-Age")
	hdrAllowCred     = []byte("Access-Control-Allow-Credentials")
	hdrVary          = []byte("Vary")
	valOrigin        = []byte("Origin")
	valTrue          = []byte("true")
	valStar          = []byte("*")
	empty            = []byte{}
	allMethods       = []byte("GET,POST,PUT,DELETE,PATCH,HEAD,OPTIONS,CONNECT,TRACE")
)

type cors struct {
	anyOrigin  bool // "*"
	echoAny    bool // "**"
	origins    map[string]bool
	regexes    []*regexp.Regexp
	methods    []byte
	headers    []byte // nil: echo the request's Access-Control-Request-Headers
	expose     []byte
	maxAge     []byte
	credential bool
}

func newCORS(_ *plugin.Build, data []byte) (any, error) {
	conf := Config{AllowOrigins: "*", AllowMethods: "*", AllowHeaders: "*", MaxAge: 5}
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	if conf.AllowCredential {
		for _, v := range []string{conf.AllowOrigins, conf.AllowMethods, conf.AllowHeaders} {
			if v == "*" {
				return nil, errors.New("you can not set '*' for other option when 'allow_credential' is true")
			}
		}
		if conf.ExposeHeaders != nil && *conf.ExposeHeaders == "*" {
			return nil, errors.New("you can not set '*' for other option when 'allow_credential' is true")
		}
	}
	p := &cors{maxAge: []byte(strconv.Itoa(conf.MaxAge)), credential: conf.AllowCredential, origins: map[string]bool{}}
	switch conf.AllowOrigins {
	case "*":
		p.anyOrigin = true
	case "**":
		p.echoAny = true
	default:
		for _, o := range strings.Split(conf.AllowOrigins, ",") {
			p.origins[strings.TrimSpace(o)] = true
		}
	}
	for i, s := range conf.AllowOriginsByRegex {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("allow_origins_by_regex[%d]: %v", i, err)
		}
		p.regexes = append(p.regexes, re)
	}
	switch conf.AllowMethods {
	case "*", "**":
		p.methods = allMethods
	default:
		p.methods = []byte(conf.AllowMethods)
	}
	if conf.AllowHeaders != "*" && conf.AllowHeaders != "**" {
		p.headers = []byte(conf.AllowHeaders)
	}
	if conf.ExposeHeaders != nil {
		p.expose = []byte(*conf.ExposeHeaders)
	}
	return p, nil
}

// Rewrite answers a preflight at the gateway, as APISIX does.
func (p *cors) Rewrite(c *plugin.Ctx) plugin.Result {
	if c.Req.MethodID() == codec.MethodOptions {
		return plugin.Stop(200, empty)
	}
	return plugin.Continue
}

// HeaderFilter writes the CORS fields for an allowed origin.
func (p *cors) HeaderFilter(c *plugin.Ctx) {
	origin, ok := c.Header("Origin")
	var allow []byte
	switch {
	case p.anyOrigin && !p.credential:
		allow = valStar
	case !ok || len(origin) == 0:
		return
	case p.echoAny || p.origins[string(origin)] || p.byRegex(origin):
		allow = origin
		c.RespEdits.Add(hdrVary, valOrigin)
	default:
		return
	}
	e := &c.RespEdits
	e.Set(hdrAllowOrigin, allow)
	e.Set(hdrAllowMethods, p.methods)
	e.Set(hdrMaxAge, p.maxAge)
	if p.expose != nil {
		e.Set(hdrExposeHeaders, p.expose)
	}
	if p.headers != nil {
		e.Set(hdrAllowHeaders, p.headers)
	} else if h, ok := c.Header("Access-Control-Request-Headers"); ok {
		e.Set(hdrAllowHeaders, h)
	}
	if p.credential {
		e.Set(hdrAllowCred, valTrue)
	}
}

func (p *cors) byRegex(origin []byte) bool {
	for _, re := range p.regexes {
		if re.Match(origin) {
			return true
		}
	}
	return false
}

var (
	_ plugin.Rewriter     = (*cors)(nil)
	_ plugin.HeaderFilter = (*cors)(nil)
)
