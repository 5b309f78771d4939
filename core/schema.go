package core

import (
	"bytes"
	"embed"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

//go:embed schema/*.json
var schemaFiles embed.FS

const schemaBase = "https://sluice-gateway.invalid/schema/"

// schemaFile names each served kind's schema in core/schema/.
var schemaFile = map[string]string{
	KindRoutes:       "route.json",
	KindUpstreams:    "upstream.json",
	KindStreamRoutes: "stream_route.json",
	// The plugin-bearing kinds (resources_plugins.go).
	KindServices:       "service.json",
	KindConsumers:      "consumer.json",
	KindConsumerGroups: "consumer_group.json",
	KindGlobalRules:    "global_rule.json",
	KindPluginConfigs:  "plugin_config.json",
	KindPluginMetadata: "plugin_metadata.json",
}

// Validator checks resources as the Admin API receives them: every field
// against the kind's JSON Schema, and no field sluice cannot serve yet.
// It is immutable once made and safe for concurrent use.
type Validator struct {
	schemas map[string]*jsonschema.Schema
	raw     map[string][]byte
}

// NewValidator compiles the embedded schemas.
func NewValidator() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	names, err := schemaFiles.ReadDir("schema")
	if err != nil {
		return nil, err
	}
	raw := map[string][]byte{}
	for _, n := range names {
		data, err := schemaFiles.ReadFile("schema/" + n.Name())
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("schema/%s: %w", n.Name(), err)
		}
		if err := c.AddResource(schemaBase+n.Name(), doc); err != nil {
			return nil, err
		}
		raw[n.Name()] = data
	}
	v := &Validator{schemas: map[string]*jsonschema.Schema{}, raw: map[string][]byte{}}
	for kind, file := range schemaFile {
		s, err := c.Compile(schemaBase + file)
		if err != nil {
			return nil, fmt.Errorf("schema for %s: %w", kind, err)
		}
		v.schemas[kind] = s
		v.raw[kind] = raw[file]
	}
	return v, nil
}

// SchemaJSON is the kind's JSON Schema document (nil for a kind not served).
func (v *Validator) SchemaJSON(kind string) []byte { return v.raw[kind] }

// FieldError is one rejected field: a JSON pointer into the document and why.
type FieldError struct {
	Pointer string `json:"pointer"`
	Reason  string `json:"reason"`
}

// ValidationError is a rejected resource, with every field at fault.
type ValidationError struct {
	Kind   string
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid ")
	b.WriteString(strings.TrimSuffix(e.Kind, "s"))
	b.WriteString(": ")
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		p := f.Pointer
		if p == "" {
			p = "/"
		}
		b.WriteString(p)
		b.WriteString(": ")
		b.WriteString(f.Reason)
	}
	return b.String()
}

var printer = message.NewPrinter(language.English)

// Validate checks doc, a JSON document decoded with jsonschema.UnmarshalJSON
// (numbers as json.Number) or encoding/json, as a resource of kind. A field
// that sluice does not serve yet is reported by name first, since a schema
// error about it would be beside the point.
func (v *Validator) Validate(kind string, doc any) error {
	known, why := KindSupport(kind)
	if !known {
		return fmt.Errorf("unknown resource kind %q", kind)
	}
	if why != "" {
		return &ValidationError{Kind: kind, Fields: []FieldError{{Reason: kind + " are not supported yet: " + why}}}
	}
	if fe := CheckUnsupported(kind, doc); fe != nil {
		return &ValidationError{Kind: kind, Fields: []FieldError{*fe}}
	}
	sch := v.schemas[kind]
	if sch == nil {
		return fmt.Errorf("no schema for resource kind %q", kind)
	}
	err := sch.Validate(doc)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return err
	}
	out := &ValidationError{Kind: kind}
	leaves(ve, &out.Fields)
	sort.SliceStable(out.Fields, func(i, j int) bool { return out.Fields[i].Pointer < out.Fields[j].Pointer })
	return out
}

// leaves flattens the schema error tree to its most specific causes.
func leaves(e *jsonschema.ValidationError, out *[]FieldError) {
	if len(e.Causes) == 0 {
		*out = append(*out, FieldError{Pointer: pointer(e.InstanceLocation), Reason: e.ErrorKind.LocalizedString(printer)})
		return
	}
	for _, c := range e.Causes {
		leaves(c, out)
	}
}

// pointerEscape escapes a JSON pointer's reference token (RFC 6901). One
// for the process: a Replacer builds its tables on first use, which made
// every field of every Admin API write allocate a new one.
var pointerEscape = strings.NewReplacer("~", "~0", "/", "~1")

func pointer(loc []string) string {
	var b strings.Builder
	for _, t := range loc {
		b.WriteByte('/')
		b.WriteString(pointerEscape.Replace(t))
	}
	return b.String()
}

// CheckUnsupported walks doc along the kind's Go type and reports the first
// non-empty field whose struct tag says `unsupported`: the same rule, and the
// same words, as the YAML decoder's.
func CheckUnsupported(kind string, doc any) *FieldError {
	f, ok := fieldByTag(reflect.TypeOf(Resources{}), kind)
	if !ok {
		return nil
	}
	return unsupportedIn(f.Type.Elem(), doc, "")
}

func unsupportedIn(t reflect.Type, doc any, ptr string) *FieldError {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := fieldByTag(t, k)
			if !ok {
				continue // the schema reports unknown fields
			}
			p := ptr + "/" + pointerEscape.Replace(k)
			if note := f.Tag.Get("unsupported"); note != "" && !emptyJSON(m[k]) {
				return &FieldError{Pointer: p, Reason: "not supported yet: " + note}
			}
			if fe := unsupportedIn(f.Type, m[k], p); fe != nil {
				return fe
			}
		}
	case reflect.Slice:
		a, ok := doc.([]any)
		if !ok {
			return nil
		}
		for i, e := range a {
			if fe := unsupportedIn(t.Elem(), e, fmt.Sprintf("%s/%d", ptr, i)); fe != nil {
				return fe
			}
		}
	}
	return nil
}

func emptyJSON(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}
