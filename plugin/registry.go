package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"unsafe"
	"weak"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/sluice-gateway/sluice/core"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

// Registry is the node's set of plugin kinds, made once in cmd/sluice from
// an explicit list, and what persists across config snapshots: the state
// plugins keep (limit counters) and the cost metrics.
type Registry struct {
	defs    []*kind // by priority, highest first
	byName  map[string]*kind
	enabled map[string]bool

	mu    sync.Mutex
	keep  map[string]*kept
	build uint64
}

// kind is a registered Def with its compiled schemas and cost counters.
type kind struct {
	Def
	idx      int
	schema   *jsonschema.Schema
	consumer *jsonschema.Schema
	metadata *jsonschema.Schema
	cost     [numPhases]Cost
}

// kept is a value Build.Keep made. A pointer value is held weakly: it
// lives exactly as long as some chain's instance holds it, so state of a
// route that no build touches (incremental builds leave unchanged routes
// alone; the Admin API's write checks build candidates) is never dropped
// while the route serves, and is reclaimed once nothing uses it. A value
// that is not a pointer is held for good.
type kept struct {
	weak   weak.Pointer[byte]
	typ    reflect.Type // the pointer's type
	strong any
}

func (k *kept) value() any {
	if k.strong != nil {
		return k.strong
	}
	p := k.weak.Value()
	if p == nil {
		return nil
	}
	return reflect.NewAt(k.typ.Elem(), unsafe.Pointer(p)).Interface()
}

func newKept(v any) *kept {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Type().Elem().Size() == 0 {
		return &kept{strong: v}
	}
	return &kept{weak: weak.Make((*byte)(rv.UnsafePointer())), typ: rv.Type()}
}

// NewRegistry registers defs. enabled is the node's `plugins` list from
// config.yaml; nil enables every registered plugin. A name in enabled that
// is not registered, two defs with one name or one priority, or a schema
// that does not compile is an error.
func NewRegistry(enabled []string, defs ...Def) (*Registry, error) {
	r := &Registry{byName: map[string]*kind{}, keep: map[string]*kept{}}
	prios := map[int]string{}
	for i := range defs {
		d := defs[i]
		if d.Name == "" || d.New == nil {
			return nil, fmt.Errorf("plugin: def %d: name and New are required", i)
		}
		if _, dup := r.byName[d.Name]; dup {
			return nil, fmt.Errorf("plugin: %s registered twice", d.Name)
		}
		if other, dup := prios[d.Priority]; dup {
			return nil, fmt.Errorf("plugin: %s and %s share priority %d", other, d.Name, d.Priority)
		}
		prios[d.Priority] = d.Name
		k := &kind{Def: d}
		var err error
		if k.schema, err = compileSchema(d.Name, "", d.Schema); err != nil {
			return nil, err
		}
		if k.consumer, err = compileSchema(d.Name, "consumer", d.ConsumerSchema); err != nil {
			return nil, err
		}
		if k.metadata, err = compileSchema(d.Name, "metadata", d.MetadataSchema); err != nil {
			return nil, err
		}
		r.byName[d.Name] = k
		r.defs = append(r.defs, k)
	}
	sort.Slice(r.defs, func(i, j int) bool { return r.defs[i].Priority > r.defs[j].Priority })
	for i, k := range r.defs {
		k.idx = i
	}
	if enabled != nil {
		r.enabled = map[string]bool{}
		for _, n := range enabled {
			if r.byName[n] == nil {
				return nil, fmt.Errorf("plugins: %q is not a plugin this build has (it has: %s)", n, strings.Join(r.Names(), ", "))
			}
			r.enabled[n] = true
		}
	}
	return r, nil
}

func compileSchema(name, which, src string) (*jsonschema.Schema, error) {
	if src == "" {
		if which == "" {
			src = `{"type":"object"}`
		} else {
			return nil, nil
		}
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %s schema: %w", name, which, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	url := "https://sluice-gateway.invalid/plugin/" + name + "/" + which
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("plugin %s: %s schema: %w", name, which, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %s schema: %w", name, which, err)
	}
	return s, nil
}

// Names lists the registered plugins by name.
func (r *Registry) Names() []string {
	ns := make([]string, 0, len(r.defs))
	for _, k := range r.defs {
		ns = append(ns, k.Name)
	}
	sort.Strings(ns)
	return ns
}

// Enabled reports whether name is registered and enabled on this node.
func (r *Registry) Enabled(name string) bool {
	return r.byName[name] != nil && (r.enabled == nil || r.enabled[name])
}

// Def returns the registered def of name.
func (r *Registry) Def(name string) (Def, bool) {
	k := r.byName[name]
	if k == nil {
		return Def{}, false
	}
	return k.Def, true
}

// Schema is the JSON Schema of name's config for where ("" for routes and
// the like, "consumer", "metadata"); nil when it has none.
func (r *Registry) Schema(name, where string) []byte {
	k := r.byName[name]
	if k == nil {
		return nil
	}
	switch where {
	case "consumer":
		return []byte(k.ConsumerSchema)
	case "metadata":
		return []byte(k.MetadataSchema)
	}
	return []byte(k.Schema)
}

// Validate checks one plugin config (a decoded JSON or YAML value) against
// the plugin's schema for where ("", "consumer" or "metadata"). Errors
// carry JSON pointers relative to the config.
func (r *Registry) Validate(name, where string, conf any) ([]byte, error) {
	k := r.byName[name]
	if k == nil {
		return nil, fmt.Errorf("unknown plugin %q", name)
	}
	s := k.schema
	switch where {
	case "consumer":
		s = k.consumer
	case "metadata":
		s = k.metadata
	}
	data, err := json.Marshal(conf)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %v", name, err)
	}
	if s == nil {
		if where == "consumer" {
			return nil, fmt.Errorf("%s is not an authentication plugin: it cannot be configured on a consumer as credentials", name)
		}
		return data, nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if err := s.Validate(doc); err != nil {
		return nil, schemaError(err)
	}
	return data, nil
}

// schemaError flattens a jsonschema error to "pointer: reason; ...".
func schemaError(err error) error {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return err
	}
	var fe []core.FieldError
	leaves(ve, &fe)
	sort.SliceStable(fe, func(i, j int) bool { return fe[i].Pointer < fe[j].Pointer })
	var b strings.Builder
	for i, f := range fe {
		if i > 0 {
			b.WriteString("; ")
		}
		p := f.Pointer
		if p == "" {
			p = "/"
		}
		b.WriteString(p + ": " + f.Reason)
	}
	return &FieldErrors{Fields: fe, text: b.String()}
}

// FieldErrors is a config that failed its plugin's schema.
type FieldErrors struct {
	Fields []core.FieldError
	text   string
}

func (e *FieldErrors) Error() string { return e.text }

func leaves(e *jsonschema.ValidationError, out *[]core.FieldError) {
	if len(e.Causes) == 0 {
		var p strings.Builder
		for _, t := range e.InstanceLocation {
			p.WriteByte('/')
			p.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
		}
		*out = append(*out, core.FieldError{Pointer: p.String(), Reason: e.ErrorKind.LocalizedString(printer)})
		return
	}
	for _, c := range e.Causes {
		leaves(c, out)
	}
}

// keepFor returns the value kept under key across builds, making it with
// mk when there is none (or it was reclaimed).
func (r *Registry) keepFor(key string, mk func() any) any {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k := r.keep[key]; k != nil {
		if v := k.value(); v != nil {
			return v
		}
	}
	v := mk()
	r.keep[key] = newKept(v)
	return v
}

// startBuild forgets kept values nothing holds any more.
func (r *Registry) startBuild() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.build++
	for key, k := range r.keep {
		if k.strong == nil && k.weak.Value() == nil {
			delete(r.keep, key)
		}
	}
	return r.build
}

func viewOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
