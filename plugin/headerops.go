package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/sluice-gateway/sluice/codec"
)

// HeaderOps are header edits as APISIX's proxy-rewrite and
// response-rewrite configure them: {"add": ..., "set": {...}, "remove":
// [...]}, or the older {"name": "value"} (set; an empty value removes).
// Values are templates with nginx variables. proxy-rewrite's add and set
// take a name's values as a list too (["v1", "v2"]: one field line each);
// response-rewrite's add is a list of "Name: value" strings.
type HeaderOps struct {
	add, set []headerOp
	remove   [][]byte
}

type headerOp struct {
	name   []byte
	values []headerValue
}

type headerValue struct {
	value *Template
	fixed []byte // the value when there is nothing to render
}

// The pieces of the two schemas.
const (
	headerName      = `{"pattern": "^[^:]+$"}`
	headerScalar    = `{"type": ["string", "number"]}`
	headerValueList = `{"anyOf": [` + headerScalar + `, {"type": "array", "minItems": 1, "items": ` + headerScalar + `}]}`
	headerRemove    = `{"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[^:]+$"}}`
	headerLegacy    = `{"not": {"anyOf": [{"required": ["add"]}, {"required": ["set"]}, {"required": ["remove"]}]},
		 "minProperties": 1, "propertyNames": ` + headerName + `, "additionalProperties": ` + headerScalar + `}`
)

// HeaderOpsSchema is the JSON Schema of proxy-rewrite's headers field, in
// either shape: add and set map names to a value or a list of values.
const HeaderOpsSchema = `{
	"type": "object",
	"anyOf": [
		{"properties": {
			"add": {"type": "object", "minProperties": 1, "propertyNames": ` + headerName + `, "additionalProperties": ` + headerValueList + `},
			"set": {"type": "object", "minProperties": 1, "propertyNames": ` + headerName + `, "additionalProperties": ` + headerValueList + `},
			"remove": ` + headerRemove + `
		}, "minProperties": 1, "additionalProperties": false},
		` + headerLegacy + `
	]
}`

// RespHeaderOpsSchema is the JSON Schema of response-rewrite's headers
// field, in either shape: add is a list of "Name: value" strings, set maps
// names to one value.
const RespHeaderOpsSchema = `{
	"type": "object",
	"anyOf": [
		{"properties": {
			"add": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[^:]+:[^:]*[^/]$"}},
			"set": {"type": "object", "minProperties": 1, "propertyNames": ` + headerName + `, "additionalProperties": ` + headerScalar + `},
			"remove": ` + headerRemove + `
		}, "minProperties": 1, "additionalProperties": false},
		` + headerLegacy + `
	]
}`

// addLine is how APISIX's response-rewrite splits an add entry.
var addLine = regexp.MustCompile(`^([^:\s]+)\s*:\s*([^:]+)$`)

// ParseHeaderOps reads a headers field (JSON) in any of the shapes above.
func ParseHeaderOps(raw []byte) (*HeaderOps, error) {
	h := &HeaderOps{}
	if len(raw) == 0 {
		return h, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	_, hasAdd := m["add"]
	_, hasSet := m["set"]
	_, hasRemove := m["remove"]
	if !hasAdd && !hasSet && !hasRemove {
		kvs, err := headerValues(raw)
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			if len(kv.values) == 1 && kv.values[0] == "" {
				h.remove = append(h.remove, []byte(kv.name))
				continue
			}
			op, err := newHeaderOp(kv.name, kv.values)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", kv.name, err)
			}
			h.set = append(h.set, op)
		}
		return h, nil
	}
	if add := bytes.TrimSpace(m["add"]); len(add) > 0 && add[0] == '[' {
		var lines []string
		if err := json.Unmarshal(add, &lines); err != nil {
			return nil, fmt.Errorf("add: %v", err)
		}
		for i, l := range lines {
			sm := addLine.FindStringSubmatch(l)
			if sm == nil {
				return nil, fmt.Errorf("add[%d]: %q: want \"Name: value\" (a value without ':')", i, l)
			}
			op, err := newHeaderOp(sm[1], []string{sm[2]})
			if err != nil {
				return nil, fmt.Errorf("add[%d]: %v", i, err)
			}
			h.add = append(h.add, op)
		}
		delete(m, "add")
	}
	for _, f := range []struct {
		name string
		dst  *[]headerOp
	}{{"add", &h.add}, {"set", &h.set}} {
		if m[f.name] == nil {
			continue
		}
		kvs, err := headerValues(m[f.name])
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f.name, err)
		}
		for _, kv := range kvs {
			op, err := newHeaderOp(kv.name, kv.values)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %v", f.name, kv.name, err)
			}
			*f.dst = append(*f.dst, op)
		}
	}
	if m["remove"] != nil {
		var names []string
		if err := json.Unmarshal(m["remove"], &names); err != nil {
			return nil, fmt.Errorf("remove: %v", err)
		}
		for _, n := range names {
			h.remove = append(h.remove, []byte(n))
		}
	}
	return h, nil
}

type headerKV struct {
	name   string
	values []string
}

// headerValues reads an object of strings, numbers or lists of them as
// name/values pairs sorted by name.
func headerValues(raw []byte) ([]headerKV, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	out := make([]headerKV, 0, len(m))
	for k, v := range m {
		kv := headerKV{name: k}
		if list, ok := v.([]any); ok {
			for _, x := range list {
				kv.values = append(kv.values, fmt.Sprint(x))
			}
		} else {
			kv.values = []string{fmt.Sprint(v)}
		}
		out = append(out, kv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func newHeaderOp(name string, values []string) (headerOp, error) {
	op := headerOp{name: []byte(name)}
	for _, value := range values {
		t, err := CompileTemplate(value)
		if err != nil {
			return headerOp{}, err
		}
		v := headerValue{value: t}
		if t.Static() && !strings.Contains(value, `\$`) {
			v.fixed = []byte(value)
		}
		op.values = append(op.values, v)
	}
	return op, nil
}

// Empty reports whether h changes nothing.
func (h *HeaderOps) Empty() bool { return len(h.add)+len(h.set)+len(h.remove) == 0 }

// ApplyHeaders puts h's edits into e: adds, then sets, then removals, as
// APISIX's code orders them. A set with several values replaces the field
// with one line per value.
func (c *Ctx) ApplyHeaders(h *HeaderOps, e *codec.Edits) {
	for i := range h.add {
		op := &h.add[i]
		for j := range op.values {
			e.Add(op.name, c.headerValue(&op.values[j]))
		}
	}
	for i := range h.set {
		op := &h.set[i]
		for j := range op.values {
			if j == 0 {
				e.Set(op.name, c.headerValue(&op.values[j]))
			} else {
				e.Add(op.name, c.headerValue(&op.values[j]))
			}
		}
	}
	for _, n := range h.remove {
		e.Del(n)
	}
}

func (c *Ctx) headerValue(v *headerValue) []byte {
	if v.fixed != nil {
		return v.fixed
	}
	return c.Render(v.value)
}
