// Package cors is APISIX's cors: answer CORS preflights (OPTIONS) at the
// gateway and add the Access-Control-* fields to answers for allowed
// origins.
//
// Priority 4000: the rewrite phase answers every OPTIONS request with 200,
// the header_filter phase writes the fields on every answer (upstream's or
// a stop's) whose Origin is allowed, decided as APISIX decides it:
//
//   - allow_origins_by_metadata, when set, is tried first: the origins the
//     plugin_metadata's allow_origins map holds under the listed keys;
//   - then allow_origins_by_regex when set (allow_origins is not used), or
//     else allow_origins: "*" (any; the field is "*"), "**" (echo any
//     origin), one origin, or a comma-separated list. With metadata set,
//     this step runs only when the metadata did not allow the origin and
//     allow_origins is not "*".
//
// "Vary: Origin" goes on every answer unless allow_origins is "*".
// timing_allow_origins (or its _by_regex) sets Timing-Allow-Origin the same
// way. "*" in allow_methods and allow_headers is sent as "*"; "**" is every
// method, or the request's Access-Control-Request-Headers echoed.
//
// Matchers are made at build time (the metadata's too: a change of
// plugin_metadata rebuilds the chains); echoing a request's own values
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

// originsPattern is APISIX's for a list of origins.
const originsPattern = `"^(\\*|\\*\\*|null|\\w+://[^,]+(,\\w+://[^,]+)*)$"`

const regexList = `{"type": "array", "minItems": 1, "uniqueItems": true, "items": {"type": "string", "minLength": 1, "maxLength": 4096}}`

// Def registers cors.
var Def = plugin.Def{
	Name:     "cors",
	Priority: 4000,
	Schema: `{
		"type": "object",
		"properties": {
			"allow_origins": {"type": "string", "pattern": ` + originsPattern + `, "default": "*"},
			"allow_methods": {"type": "string", "default": "*"},
			"allow_headers": {"type": "string", "default": "*"},
			"expose_headers": {"type": "string"},
			"max_age": {"type": "integer", "default": 5},
			"allow_credential": {"type": "boolean", "default": false},
			"allow_origins_by_regex": ` + regexList + `,
			"allow_origins_by_metadata": ` + regexList + `,
			"timing_allow_origins": {"type": "string", "pattern": ` + originsPattern + `},
			"timing_allow_origins_by_regex": ` + regexList + `
		},
		"additionalProperties": false
	}`,
	MetadataSchema: `{
		"type": "object",
		"properties": {
			"allow_origins": {"type": "object", "additionalProperties": {"type": "string", "pattern": ` + originsPattern + `}}
		},
		"additionalProperties": false
	}`,
	New: newCORS,
}

// Config is cors's config.
type Config struct {
	AllowOrigins              string   `json:"allow_origins"`
	AllowMethods              string   `json:"allow_methods"`
	AllowHeaders              string   `json:"allow_headers"`
	ExposeHeaders             *string  `json:"expose_headers"`
	MaxAge                    int      `json:"max_age"`
	AllowCredential           bool     `json:"allow_credential"`
	AllowOriginsByRegex       []string `json:"allow_origins_by_regex"`
	AllowOriginsByMetadata    []string `json:"allow_origins_by_metadata"`
	TimingAllowOrigins        *string  `json:"timing_allow_origins"`
	TimingAllowOriginsByRegex []string `json:"timing_allow_origins_by_regex"`
}

// Metadata is cors's plugin_metadata: origins lists by name, for
// allow_origins_by_metadata.
type Metadata struct {
	AllowOrigins map[string]string `json:"allow_origins"`
}

var (
	hdrAllowOrigin   = []byte("Access-Control-Allow-Origin")
	hdrAllowMethods  = []byte("Access-Control-Allow-Methods")
	hdrAllowHeaders  = []byte("Access-Control-Allow-Headers")
	hdrExposeHeaders = []byte("Access-Control-Expose-Headers")
	hdrMaxAge        = []byte("Access-Control-Max-Age")
	hdrAllowCred     = []byte("Access-Control-Allow-Credentials")
	hdrTimingAllow   = []byte("Timing-Allow-Origin")
	hdrVary          = []byte("Vary")
	valOrigin        = []byte("Origin")
	valTrue          = []byte("true")
	valStar          = []byte("*")
	empty            = []byte{}
	allMethods       = []byte("GET,POST,PUT,DELETE,PATCH,HEAD,OPTIONS,CONNECT,TRACE")
)

// origins is one allow_origins-shaped value: "*", "**", one origin, or a
// comma-separated list.
type origins struct {
	star, echo bool
	one        string
	set        map[string]bool
}

func parseOrigins(s string) origins {
	switch {
	case s == "*":
		return origins{star: true}
	case s == "**":
		return origins{echo: true}
	case strings.Contains(s, ","):
		o := origins{set: map[string]bool{}}
		for _, v := range strings.Split(s, ",") {
			if v != "" {
				o.set[v] = true
			}
		}
		return o
	}
	return origins{one: s}
}

// allow returns the value the origin is allowed with ("*" or the origin
// itself), or nil. An absent (or empty) Origin is allowed only by "*" and
// "**" (as "*").
func (o *origins) allow(origin []byte) []byte {
	switch {
	case o.star:
		return valStar
	case o.echo:
		if len(origin) == 0 {
			return valStar
		}
		return origin
	case len(origin) == 0:
		return nil
	case o.set != nil:
		if o.set[string(origin)] {
			return origin
		}
	case o.one == string(origin):
		return origin
	}
	return nil
}

func compileRegexes(field string, list []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for i, s := range list {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %v", field, i, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func byRegex(res []*regexp.Regexp, origin []byte) []byte {
	if len(origin) == 0 {
		return nil
	}
	for _, re := range res {
		if re.Match(origin) {
			return origin
		}
	}
	return nil
}

type cors struct {
	byMeta     bool      // allow_origins_by_metadata is set
	meta       []origins // the listed keys the metadata has
	local      origins   // allow_origins
	localStar  bool      // allow_origins is "*": no Vary, and metadata has the last word
	regexes    []*regexp.Regexp
	timing     *origins // timing_allow_origins, nil when unset
	timingRE   []*regexp.Regexp
	methods    []byte
	headers    []byte // nil: echo the request's Access-Control-Request-Headers
	expose     []byte
	maxAge     []byte
	credential bool
}

func newCORS(b *plugin.Build, data []byte) (any, error) {
	conf := Config{AllowOrigins: "*", AllowMethods: "*", AllowHeaders: "*", MaxAge: 5}
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	if conf.AllowCredential {
		star := conf.AllowOrigins == "*" || conf.AllowMethods == "*" || conf.AllowHeaders == "*" ||
			(conf.ExposeHeaders != nil && *conf.ExposeHeaders == "*") ||
			(conf.TimingAllowOrigins != nil && *conf.TimingAllowOrigins == "*")
		if star {
			return nil, errors.New("you can not set '*' for other option when 'allow_credential' is true")
		}
	}
	p := &cors{
		maxAge: []byte(strconv.Itoa(conf.MaxAge)), credential: conf.AllowCredential,
		local: parseOrigins(conf.AllowOrigins), localStar: conf.AllowOrigins == "*",
		methods: []byte(conf.AllowMethods),
	}
	var err error
	if p.regexes, err = compileRegexes("allow_origins_by_regex", conf.AllowOriginsByRegex); err != nil {
		return nil, err
	}
	if p.timingRE, err = compileRegexes("timing_allow_origins_by_regex", conf.TimingAllowOriginsByRegex); err != nil {
		return nil, err
	}
	if conf.TimingAllowOrigins != nil && p.timingRE == nil {
		o := parseOrigins(*conf.TimingAllowOrigins)
		p.timing = &o
	}
	if len(conf.AllowOriginsByMetadata) > 0 {
		p.byMeta = true
		raw, err := b.Metadata("cors")
		if err != nil {
			return nil, fmt.Errorf("plugin_metadata: %v", err)
		}
		var md Metadata
		if err := plugin.Decode(raw, &md); err != nil {
			return nil, fmt.Errorf("plugin_metadata: %v", err)
		}
		// A key the metadata lacks allows nothing, as in APISIX (which
		// reads the metadata per request): it may be added later.
		for _, k := range conf.AllowOriginsByMetadata {
			if v, ok := md.AllowOrigins[k]; ok {
				p.meta = append(p.meta, parseOrigins(v))
			}
		}
	}
	if conf.AllowMethods == "**" {
		p.methods = allMethods
	}
	if conf.AllowHeaders != "**" {
		p.headers = []byte(conf.AllowHeaders)
	}
	if conf.ExposeHeaders != nil && *conf.ExposeHeaders != "" {
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
	origin, _ := c.Header("Origin")
	e := &c.RespEdits
	if !p.localStar {
		e.Add(hdrVary, valOrigin)
	}
	if allow := p.allowOrigin(origin); allow != nil {
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
	var timing []byte
	switch {
	case p.timingRE != nil:
		timing = byRegex(p.timingRE, origin)
	case p.timing != nil:
		timing = p.timing.allow(origin)
	}
	if timing != nil {
		e.Set(hdrTimingAllow, timing)
	}
}

// allowOrigin is the Access-Control-Allow-Origin value for origin, nil when
// it is not allowed.
func (p *cors) allowOrigin(origin []byte) []byte {
	if p.byMeta {
		if len(origin) == 0 {
			return nil
		}
		for i := range p.meta {
			if p.meta[i].allow(origin) != nil {
				return origin
			}
		}
		if p.localStar {
			return nil
		}
	}
	if p.regexes != nil {
		return byRegex(p.regexes, origin)
	}
	return p.local.allow(origin)
}

var (
	_ plugin.Rewriter     = (*cors)(nil)
	_ plugin.HeaderFilter = (*cors)(nil)
)
