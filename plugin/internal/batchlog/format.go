package batchlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/route"
)

// Format is what an entry holds: APISIX's full log (nil custom), or a
// log_format of keys to variables ("$remote_addr"), literals and nested
// objects.
type Format struct {
	custom []field
	// extra is log_format_extra: fields added to the full log where it
	// has no such key.
	extra []field
}

type field struct {
	key  string
	lit  string
	v    *logVar
	kids []field // a nested object
}

// logVar is a log_format variable: one of the log phase's own (status,
// request_time...), or a request variable read from the captured head.
type logVar struct {
	special int
	rv      route.Var
	header  string // varSentHTTP's response header
}

const (
	varRoute = iota
	varStatus
	varRequestTime
	varUpstreamResponseTime
	varUpstreamAddr
	varBytesSent
	varRequestLength
	varTimeISO8601
	varTimeLocal
	varMsec
	varHostname
	varRequestLine
	varConsumerName
	varRouteID
	varServiceID
	varRouteName
	varServiceName
	varRequestBody
	varSentHTTP
)

var specialVars = map[string]int{
	"status": varStatus, "request_time": varRequestTime, "upstream_response_time": varUpstreamResponseTime,
	"upstream_addr": varUpstreamAddr, "bytes_sent": varBytesSent, "request_length": varRequestLength,
	"time_iso8601": varTimeISO8601, "time_local": varTimeLocal, "msec": varMsec, "hostname": varHostname,
	"request": varRequestLine, "consumer_name": varConsumerName, "route_id": varRouteID,
	"service_id": varServiceID, "route_name": varRouteName, "service_name": varServiceName,
	"request_body": varRequestBody,
}

// maxDepth is how deep log_format objects nest, as APISIX allows.
const maxDepth = 5

// CompileFormat compiles a log_format (a JSON object); nil or empty data
// is APISIX's full log.
func CompileFormat(data []byte) (*Format, error) {
	if len(bytes.TrimSpace(data)) == 0 || string(bytes.TrimSpace(data)) == "null" {
		return &Format{}, nil
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("log_format: want an object: %v", err)
	}
	fs, err := compileFields(m, "log_format", 1)
	if err != nil {
		return nil, err
	}
	return &Format{custom: fs}, nil
}

func compileFields(m map[string]any, at string, depth int) ([]field, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fs := make([]field, 0, len(keys))
	for _, k := range keys {
		f := field{key: k}
		switch v := m[k].(type) {
		case string:
			if name, ok := strings.CutPrefix(v, "$"); ok && name != "" {
				lv := &logVar{special: specialVars[name]}
				if h, ok := strings.CutPrefix(name, "sent_http_"); ok && h != "" {
					// nginx's $sent_http_<name>: a response header.
					lv.special, lv.header = varSentHTTP, strings.ReplaceAll(strings.ToLower(h), "_", "-")
				}
				if lv.special == varRoute {
					lv.rv = route.ParseVar(name)
				}
				f.v = lv
			} else {
				f.lit = v
			}
		case map[string]any:
			if depth >= maxDepth {
				return nil, fmt.Errorf("%s.%s: objects nest at most %d deep", at, k, maxDepth)
			}
			kids, err := compileFields(v, at+"."+k, depth+1)
			if err != nil {
				return nil, err
			}
			f.kids = kids
			if f.kids == nil {
				f.kids = []field{}
			}
		default:
			return nil, fmt.Errorf("%s.%s: want a string (\"$variable\" or text) or an object, got %T", at, k, m[k])
		}
		fs = append(fs, f)
	}
	return fs, nil
}

// Custom reports whether the format is a log_format.
func (f *Format) Custom() bool { return f.custom != nil }

// SetExtra compiles log_format_extra: fields added on top of the full
// log, where it has no such key (ignored with a log_format, as in APISIX).
func (f *Format) SetExtra(data []byte) error {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("log_format_extra: want an object: %v", err)
	}
	fs, err := compileFields(m, "log_format_extra", 1)
	if err != nil {
		return err
	}
	f.extra = fs
	return nil
}

// usesRequestBody reports whether the entries show $request_body.
func (f *Format) usesRequestBody() bool {
	fs := f.custom
	if fs == nil {
		fs = f.extra
	}
	return usesVar(fs, varRequestBody)
}

func usesVar(fs []field, special int) bool {
	for i := range fs {
		if fs[i].v != nil && fs[i].v.special == special || usesVar(fs[i].kids, special) {
			return true
		}
	}
	return false
}

// formatter is a worker's scratch for formatting records.
type formatter struct {
	req    codec.Request
	resp   codec.Response
	rreq   route.Request
	match  route.Match
	vars   plugin.RequestVars
	ctx    plugin.Ctx // for conditions decided here (Logger.decide)
	okReq  bool
	tmp    []byte
	parsed *Record // the record the heads were parsed for
}

var hostname = func() string { h, _ := os.Hostname(); return h }()

// ServerVersion is the server.version of APISIX's full log.
var ServerVersion = "sluice"

// parse parses the record's heads again (off the loop).
func (st *formatter) parse(r *Record) {
	if st.parsed == r {
		return
	}
	st.parsed = r
	st.req.Reset()
	_, err := st.req.Parse(r.Head)
	st.okReq = err == nil && len(r.Head) > 0
	st.resp.Reset()
	if len(r.RespHead) > 0 {
		if _, err := st.resp.Parse(r.RespHead); err != nil {
			st.resp.Reset()
		}
	}
	st.vars = plugin.RequestVars{Req: nil, Local: r.Local, Remote: r.Remote}
	st.rreq = route.Request{RemoteAddr: r.Remote.Addr(), Vars: &st.vars}
	if st.okReq {
		st.vars.Req = &st.req
		host := st.req.Host()
		if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host[i:], ']') < 0 {
			host = host[:i]
		}
		st.rreq.Method, st.rreq.Path, st.rreq.Host = st.req.Method(), st.req.Path(), host
	}
}

// context is a plugin context over the parsed record, for expressions:
// the request's variables, and the status, consumer and route ids.
func (st *formatter) context(r *Record) *plugin.Ctx {
	c := &st.ctx
	c.Reset(nil)
	c.Route, c.Match = &st.rreq, &st.match
	if st.okReq {
		c.Req = &st.req
	}
	if len(r.RespHead) > 0 {
		c.Resp = &st.resp
	}
	c.Status, c.Consumer = r.Status, r.ConsumerRef
	c.RouteID, c.ServiceID = r.RouteID, r.ServiceID
	c.Remote, c.Local = r.Remote, r.Local
	st.vars.Ctx = c
	return c
}

// Append formats r as one JSON object onto b.
func (f *Format) Append(b []byte, st *formatter, r *Record) []byte {
	st.parse(r)
	st.parsed = nil
	if f.custom != nil {
		b = st.appendFields(b, f.custom, r, true)
		return b
	}
	return st.appendFull(b, f, r)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (st *formatter) appendFull(b []byte, f *Format, r *Record) []byte {
	b = append(b, `{"request":{`...)
	if st.okReq {
		host := st.rreq.Host
		b = append(b, `"url":`...)
		st.tmp = append(st.tmp[:0], "http://"...)
		st.tmp = append(st.tmp, host...)
		st.tmp = append(st.tmp, ':')
		st.tmp = strconv.AppendUint(st.tmp, uint64(r.Local.Port()), 10)
		st.tmp = append(st.tmp, st.req.Target()...)
		b = appendBytes(b, st.tmp)
		b = append(b, `,"uri":`...)
		b = appendBytes(b, st.req.Target())
		b = append(b, `,"method":`...)
		b = appendBytes(b, st.req.Method())
		b = append(b, `,"headers":`...)
		b = appendHeaders(b, &st.req)
		b = append(b, `,"querystring":`...)
		b = appendQuery(b, st.req.Query())
		b = append(b, ',')
	}
	if r.HasReqBody && len(r.ReqBody) > 0 { // no body: no key, as APISIX
		b = append(b, `"body":`...)
		b = appendBytes(b, r.ReqBody)
		b = append(b, ',')
	}
	b = append(b, `"size":`...)
	b = strconv.AppendInt(b, r.BytesIn, 10)
	b = append(b, `},"response":{"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"headers":`...)
	b = appendHeaders(b, &st.resp)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, r.BytesOut, 10)
	if r.HasRespBody && len(r.RespBody) > 0 {
		b = append(b, `,"body":`...)
		b = appendBytes(b, gunzipped(r.RespBody, &st.resp, r.RespMax))
	}
	b = append(b, `},"server":{"hostname":`...)
	b = appendString(b, hostname)
	b = append(b, `,"version":`...)
	b = appendString(b, ServerVersion)
	b = append(b, '}')
	if r.Node.IsValid() {
		b = append(b, `,"upstream":`...)
		b = appendString(b, r.Node.String())
	}
	b = append(b, `,"service_id":`...)
	b = appendString(b, r.ServiceID)
	b = append(b, `,"route_id":`...)
	b = appendString(b, r.RouteID)
	if r.Consumer != "" {
		b = append(b, `,"consumer":{"username":`...)
		b = appendString(b, r.Consumer)
		b = append(b, '}')
	}
	b = append(b, `,"client_ip":`...)
	b = appendString(b, r.Remote.Addr().Unmap().String())
	b = append(b, `,"start_time":`...)
	b = strconv.AppendInt(b, r.Start.UnixMilli(), 10)
	total, up, gw := latencies(r)
	b = append(b, `,"latency":`...)
	b = strconv.AppendFloat(b, ms(total), 'f', -1, 64)
	if !r.UpstreamStart.IsZero() {
		b = append(b, `,"upstream_latency":`...)
		b = strconv.AppendFloat(b, ms(up), 'f', -1, 64)
	}
	b = append(b, `,"apisix_latency":`...)
	b = strconv.AppendFloat(b, ms(gw), 'f', -1, 64)
	for i := range f.extra {
		fl := &f.extra[i]
		if fullHas(fl.key, r) {
			continue
		}
		mark := len(b)
		b = append(b, ',')
		if b = st.appendField(b, fl, r); len(b) == mark+1 {
			b = b[:mark] // absent: no key
		}
	}
	return append(b, '}')
}

// fullHas reports whether the full log has key for r (log_format_extra
// adds only keys it lacks).
func fullHas(key string, r *Record) bool {
	switch key {
	case "request", "response", "server", "service_id", "route_id", "client_ip", "start_time", "latency", "apisix_latency":
		return true
	case "upstream":
		return r.Node.IsValid()
	case "consumer":
		return r.Consumer != ""
	case "upstream_latency":
		return !r.UpstreamStart.IsZero()
	}
	return false
}

// latencies are APISIX's: the whole request, the upstream part (from the
// request starting upstream to the end) and the rest.
func latencies(r *Record) (total, up, gw time.Duration) {
	if !r.Start.IsZero() {
		total = r.End.Sub(r.Start)
	}
	if !r.UpstreamStart.IsZero() {
		up = r.End.Sub(r.UpstreamStart)
	}
	gw = max(total-up, 0)
	return
}

// fields is what appendHeaders reads from a request or a response.
type fields interface {
	NumFields() int
	Field(i int) (name, value []byte)
}

// appendHeaders writes a head's fields as ngx.req.get_headers does:
// names lower-cased, a repeated name's values in an array.
func appendHeaders(b []byte, h fields) []byte {
	b = append(b, '{')
	n := h.NumFields()
	first := true
next:
	for i := 0; i < n; i++ {
		name, _ := h.Field(i)
		for j := 0; j < i; j++ {
			if k, _ := h.Field(j); bytes.EqualFold(k, name) {
				continue next
			}
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendBytes(b, bytes.ToLower(name))
		b = append(b, ':')
		count := 0
		for j := i; j < n; j++ {
			if k, _ := h.Field(j); bytes.EqualFold(k, name) {
				count++
			}
		}
		if count > 1 {
			b = append(b, '[')
		}
		c := 0
		for j := i; j < n; j++ {
			if k, v := h.Field(j); bytes.EqualFold(k, name) {
				if c > 0 {
					b = append(b, ',')
				}
				b = appendBytes(b, v)
				c++
			}
		}
		if count > 1 {
			b = append(b, ']')
		}
	}
	return append(b, '}')
}

// appendQuery writes a query string as ngx.req.get_uri_args does: values
// decoded, a bare key true, a repeated key's values in an array.
func appendQuery(b []byte, q []byte) []byte {
	type kv struct {
		k string
		v []any
	}
	var args []kv
	for _, part := range strings.Split(string(q), "&") {
		if part == "" {
			continue
		}
		k, v, has := strings.Cut(part, "=")
		k = unescape(k)
		var val any = true
		if has {
			val = unescape(v)
		}
		found := false
		for i := range args {
			if args[i].k == k {
				args[i].v = append(args[i].v, val)
				found = true
				break
			}
		}
		if !found {
			args = append(args, kv{k, []any{val}})
		}
	}
	b = append(b, '{')
	for i, a := range args {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, a.k)
		b = append(b, ':')
		if len(a.v) > 1 {
			b = append(b, '[')
		}
		for j, v := range a.v {
			if j > 0 {
				b = append(b, ',')
			}
			switch v := v.(type) {
			case bool:
				b = append(b, "true"...)
			case string:
				b = appendString(b, v)
			}
		}
		if len(a.v) > 1 {
			b = append(b, ']')
		}
	}
	return append(b, '}')
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// appendFields writes a log_format object. At the top level, route_id and
// service_id are added, as APISIX does.
func (st *formatter) appendFields(b []byte, fs []field, r *Record, top bool) []byte {
	b = append(b, '{')
	n := 0
	for i := range fs {
		f := &fs[i]
		if top && (f.key == "route_id" || f.key == "service_id") {
			continue
		}
		mark := len(b)
		if n > 0 {
			b = append(b, ',')
		}
		before := len(b)
		if b = st.appendField(b, f, r); len(b) == before {
			b = b[:mark] // an absent variable leaves its key out
			continue
		}
		n++
	}
	if top {
		// As APISIX: the matched route's id and, when it has one, its
		// service's.
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `"route_id":`...)
		b = appendString(b, r.RouteID)
		if r.ServiceID != "" {
			b = append(b, `,"service_id":`...)
			b = appendString(b, r.ServiceID)
		}
	}
	return append(b, '}')
}

// appendField writes "key":value, or nothing when its variable is absent.
func (st *formatter) appendField(b []byte, f *field, r *Record) []byte {
	mark := len(b)
	b = appendString(b, f.key)
	b = append(b, ':')
	switch {
	case f.kids != nil:
		b = st.appendFields(b, f.kids, r, false)
	case f.v != nil:
		val, ok := st.eval(f.v, r)
		if !ok {
			return b[:mark]
		}
		b = appendBytes(b, val)
	default:
		b = appendString(b, f.lit)
	}
	return b
}

// eval reads one variable for r; the value is valid until the next eval.
func (st *formatter) eval(v *logVar, r *Record) ([]byte, bool) {
	t := st.tmp[:0]
	total, up, _ := latencies(r)
	switch v.special {
	case varRoute:
		return v.rv.Get(&st.rreq, &st.match)
	case varStatus:
		t = strconv.AppendInt(t, int64(r.Status), 10)
	case varRequestTime:
		t = strconv.AppendFloat(t, total.Seconds(), 'f', 3, 64)
	case varUpstreamResponseTime:
		if r.UpstreamStart.IsZero() {
			return nil, false
		}
		t = strconv.AppendFloat(t, up.Seconds(), 'f', 3, 64)
	case varUpstreamAddr:
		if !r.Node.IsValid() {
			return nil, false
		}
		t = r.Node.AppendTo(t)
	case varBytesSent:
		t = strconv.AppendInt(t, r.BytesOut, 10)
	case varRequestLength:
		t = strconv.AppendInt(t, r.BytesIn, 10)
	case varTimeISO8601:
		t = r.End.AppendFormat(t, "2006-01-02T15:04:05-07:00")
	case varTimeLocal:
		t = r.End.AppendFormat(t, "02/Jan/2006:15:04:05 -0700")
	case varMsec:
		t = strconv.AppendFloat(t, float64(r.End.UnixMilli())/1000, 'f', 3, 64)
	case varHostname:
		t = append(t, hostname...)
	case varRequestLine:
		if !st.okReq {
			return nil, false
		}
		t = append(t, st.req.Method()...)
		t = append(t, ' ')
		t = append(t, st.req.Target()...)
		t = append(t, ' ')
		t = append(t, st.req.Proto()...)
	case varConsumerName:
		if r.Consumer == "" {
			return nil, false
		}
		t = append(t, r.Consumer...)
	case varRouteID:
		t = append(t, r.RouteID...)
	case varServiceID:
		t = append(t, r.ServiceID...)
	case varRouteName:
		t = append(t, r.RouteName...)
	case varServiceName:
		t = append(t, r.ServiceName...)
	case varRequestBody:
		if !r.HasReqBody || len(r.ReqBody) == 0 {
			return nil, false
		}
		return r.ReqBody, true
	case varSentHTTP:
		return st.resp.Get(v.header)
	}
	st.tmp = t
	return t, true
}
