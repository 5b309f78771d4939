package plugin

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Def declares a plugin kind: what the registry knows before any config
// exists. Each built-in package exports one (keyauth.Def, ...).
type Def struct {
	// Name is the APISIX plugin name ("key-auth").
	Name string
	// Priority orders the plugins of a phase: higher runs first. Two
	// registered plugins may not share one.
	Priority int
	// Schema is the JSON Schema of the plugin's config on a route,
	// service, plugin config, global rule or consumer group.
	Schema string
	// ConsumerSchema, for authentication plugins, is the schema of the
	// plugin's config on a consumer (key-auth's {"key": ...}). A plugin
	// with one is an authentication plugin: it identifies consumers.
	ConsumerSchema string
	// ConsumerKey names the credential field that identifies one consumer
	// (key-auth's "key", basic-auth's "username"): two consumers with one
	// value are a config error of the later one, as APISIX's Admin API
	// refuses them.
	ConsumerKey string
	// MetadataSchema is the schema of the plugin's plugin_metadata, when
	// it has one.
	MetadataSchema string
	// New builds an instance from a config that passed Schema. The
	// instance implements the phase interfaces the plugin uses; the
	// registry finds them once, when the chain is built.
	New func(b *Build, conf []byte) (any, error)
}

// Phase is a point in the life of a request or stream where hooks run.
type Phase uint8

// The phases, in the order they run.
const (
	PhaseRewrite Phase = iota
	PhaseAccess
	PhaseBeforeProxy
	PhaseHeaderFilter
	PhaseBodyFilter
	PhaseLog
	PhasePreread
	// PhaseRequestBody and PhaseResponseBody are where body readers
	// (RequestBodyReader, ResponseBodyReader) see the bodies stream by.
	PhaseRequestBody
	PhaseResponseBody
	numPhases
)

var phaseNames = [numPhases]string{"rewrite", "access", "before_proxy", "header_filter", "body_filter", "log", "preread", "request_body", "response_body"}

func (p Phase) String() string {
	if p < numPhases {
		return phaseNames[p]
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// The phase interfaces. A plugin implements only those it uses.
type (
	// Rewriter runs first, before the consumer is known (authentication
	// plugins identify it here, as in APISIX).
	Rewriter interface{ Rewrite(c *Ctx) Result }
	// Accessor decides whether the request may go on.
	Accessor interface{ Access(c *Ctx) Result }
	// BeforeProxy runs just before the upstream is picked; it may set
	// c.Upstream to send the request elsewhere.
	BeforeProxy interface{ BeforeProxy(c *Ctx) Result }
	// HeaderFilter sees the response head (c.Status, c.Resp) and changes
	// it through c.RespEdits. It cannot stop: the answer is under way.
	HeaderFilter interface{ HeaderFilter(c *Ctx) }
	// BodyFilter sees the response body as it streams, decoded, chunk by
	// chunk; last is true once, at the end (with a possibly empty chunk).
	// It returns what goes to the client instead (the chunk itself to pass
	// it on). A chain with body filters sends the body chunked.
	BodyFilter interface {
		BodyFilter(c *Ctx, chunk []byte, last bool) []byte
	}
	// Logger runs after the exchange (or stream) ended, however it ended.
	// It must not block: copy what is needed and hand it off.
	Logger interface{ Log(c *Ctx) }
	// Prereader runs when a stream (L4) connection arrives, before the
	// upstream is picked.
	Prereader interface{ Preread(c *Ctx) Result }
)

// Result is what a hook decides: go on (the zero Result), or stop the
// request with Status and Body. A nil Body answers with APISIX's JSON
// {"error_msg": "<reason phrase>"}. For a stream, stopping closes it.
type Result struct {
	Status int
	Body   []byte
	// Delay, with Status 0, pauses the request: the server resumes it
	// after Delay with the next hook, without blocking its loop (limit-req
	// and fault-injection delays). Only the request phases may pause.
	Delay time.Duration
}

// Continue is the zero Result.
var Continue = Result{}

// Stop returns a Result that stops with status and body.
func Stop(status int, body []byte) Result { return Result{Status: status, Body: body} }

// Pause returns a Result that resumes the request after d.
func Pause(d time.Duration) Result { return Result{Delay: d} }

// Stopped reports whether r stops the request.
func (r Result) Stopped() bool { return r.Status != 0 }

// Message renders {"message": msg}, the body APISIX's plugins answer with.
// Call it at build time and keep the bytes.
func Message(msg string) []byte {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	return b
}

// Decode fills conf (already holding the plugin's defaults) from a
// config's JSON. The schema has checked the shape; this is the typed view.
func Decode(data []byte, conf any) error {
	if len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, conf); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}
