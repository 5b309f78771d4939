// Package requestid is APISIX's request-id: every request proxied carries
// a unique ID in a header (default X-Request-Id), the client's own when it
// sent a non-empty one, else a generated one; with include_in_response
// (the default) the answer carries it too.
//
// Priority 12015, rewrite and header_filter phases. IDs come from the
// runtime's per-thread random source (math/rand/v2, no lock) and are
// formatted into request scratch: no allocation per request.
//
// Algorithms: uuid (RFC 9562 version 4), uuidv7 (version 7: a millisecond
// timestamp, then random bits, so IDs sort by time; APISIX's code has it,
// its page does not list it yet), nanoid (21 characters of A-Za-z0-9_-),
// range_id (range_id.length characters of range_id.char_set) and ksuid (27
// base62 characters: a 32-bit timestamp and 128 random bits).
//
// The answer gets the ID unless the upstream's answer carries a non-empty
// header of that name already, as in APISIX.
package requestid

import (
	"math/rand/v2"
	"time"

	"github.com/sluice-gateway/sluice/plugin"
)

// Def registers request-id.
var Def = plugin.Def{
	Name:     "request-id",
	Priority: 12015,
	Schema: `{
		"type": "object",
		"properties": {
			"header_name": {"type": "string", "minLength": 1, "default": "X-Request-Id"},
			"include_in_response": {"type": "boolean", "default": true},
			"algorithm": {"type": "string", "enum": ["uuid", "nanoid", "range_id", "ksuid", "uuidv7"], "default": "uuid"},
			"range_id": {
				"type": "object",
				"properties": {
					"char_set": {"type": "string", "minLength": 6, "default": "abcdefghijklmnopqrstuvwxyzABCDEFGHIGKLMNOPQRSTUVWXYZ0123456789"},
					"length": {"type": "integer", "minimum": 6, "default": 16}
				},
				"additionalProperties": false
			}
		},
		"additionalProperties": false
	}`,
	New: newRequestID,
}

// Config is request-id's config.
type Config struct {
	HeaderName        string `json:"header_name"`
	IncludeInResponse bool   `json:"include_in_response"`
	Algorithm         string `json:"algorithm"`
	RangeID           struct {
		CharSet string `json:"char_set"`
		Length  int    `json:"length"`
	} `json:"range_id"`
}

type requestID struct {
	header  string
	headerB []byte
	inResp  bool
	gen     func(c *plugin.Ctx) []byte
	charset string
	length  int
}

// id is the request's ID, kept from rewrite for header_filter.
type id struct{ v []byte }

func newRequestID(_ *plugin.Build, data []byte) (any, error) {
	var conf Config
	conf.HeaderName, conf.IncludeInResponse, conf.Algorithm = "X-Request-Id", true, "uuid"
	conf.RangeID.CharSet, conf.RangeID.Length = "abcdefghijklmnopqrstuvwxyzABCDEFGHIGKLMNOPQRSTUVWXYZ0123456789", 16
	if err := plugin.Decode(data, &conf); err != nil {
		return nil, err
	}
	p := &requestID{header: conf.HeaderName, headerB: []byte(conf.HeaderName), inResp: conf.IncludeInResponse,
		charset: conf.RangeID.CharSet, length: conf.RangeID.Length}
	switch conf.Algorithm {
	case "nanoid":
		p.charset, p.length = nanoAlphabet, 21
		p.gen = p.rangeID
	case "range_id":
		p.gen = p.rangeID
	case "ksuid":
		p.gen = ksuid
	case "uuidv7":
		p.gen = uuidv7
	default:
		p.gen = uuid
	}
	return p, nil
}

const nanoAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

// Rewrite keeps the client's ID or sets a new one on the upstream request.
func (p *requestID) Rewrite(c *plugin.Ctx) plugin.Result {
	st := plugin.State[id](c)
	if v, ok := c.Header(p.header); ok && len(v) > 0 {
		st.v = v
		return plugin.Continue
	}
	st.v = p.gen(c)
	c.Edits.Set(p.headerB, st.v)
	return plugin.Continue
}

// HeaderFilter puts the ID on the answer.
func (p *requestID) HeaderFilter(c *plugin.Ctx) {
	if !p.inResp {
		return
	}
	if c.Resp != nil {
		if v, ok := c.Resp.Get(p.header); ok && len(v) > 0 {
			return // the upstream's own
		}
	}
	if st := plugin.State[id](c); st.v != nil {
		c.RespEdits.Set(p.headerB, st.v)
	}
}

func uuid(c *plugin.Ctx) []byte {
	var raw [16]byte
	a, b := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		raw[i], raw[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
	}
	raw[6] = raw[6]&0x0f | 0x40 // version 4
	raw[8] = raw[8]&0x3f | 0x80 // variant 10
	return formatUUID(c, &raw)
}

// uuidv7 is RFC 9562's version 7: 48 bits of Unix milliseconds, then 74
// random bits around the version and variant.
func uuidv7(c *plugin.Ctx) []byte {
	var raw [16]byte
	ms := uint64(time.Now().UnixMilli())
	for i := range 6 {
		raw[i] = byte(ms >> (8 * (5 - i)))
	}
	a, b := rand.Uint64(), rand.Uint64()
	raw[6], raw[7] = byte(a)&0x0f|0x70, byte(a>>8) // version 7
	for i := 8; i < 16; i++ {
		raw[i] = byte(b >> (8 * (i - 8)))
	}
	raw[8] = raw[8]&0x3f | 0x80 // variant 10
	return formatUUID(c, &raw)
}

func formatUUID(c *plugin.Ctx, raw *[16]byte) []byte {
	const hexd = "0123456789abcdef"
	out := c.Alloc(36)
	j := 0
	for i, x := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexd[x>>4], hexd[x&15]
		j += 2
	}
	return out
}

func (p *requestID) rangeID(c *plugin.Ctx) []byte {
	out := c.Alloc(p.length)
	n := uint(len(p.charset))
	for i := range out {
		out[i] = p.charset[rand.UintN(n)]
	}
	return out
}

// ksuidEpoch is KSUID's epoch (2014-05-13T16:53:20Z).
const ksuidEpoch = 1400000000

func ksuid(c *plugin.Ctx) []byte {
	// 160 bits as five big-endian 32-bit words: timestamp, then 128 random.
	var w [5]uint32
	w[0] = uint32(time.Now().Unix() - ksuidEpoch)
	for i := 1; i < 5; i++ {
		w[i] = rand.Uint32()
	}
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	out := c.Alloc(27)
	for i := 26; i >= 0; i-- {
		var rem uint64
		for k := range w { // w /= 62, long division
			cur := rem<<32 | uint64(w[k])
			w[k] = uint32(cur / 62)
			rem = cur % 62
		}
		out[i] = digits[rem]
	}
	return out
}

var (
	_ plugin.Rewriter     = (*requestID)(nil)
	_ plugin.HeaderFilter = (*requestID)(nil)
)
