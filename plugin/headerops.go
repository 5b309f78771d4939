package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-gateway/sluice/codec"
)

// HeaderOps are header edits as APISIX's proxy-rewrite and
// response-rewrite configure them: {"add": {...}, "set": {...},
// "remove": [...]}, or the older {"name": "value"} (set; an empty value
// removes). Values are templates with nginx variables.
type HeaderOps struct {
	add, set []headerOp
	remove   [][]byte
}

type headerOp struct {
	name  []byte
	value *Template
	fixed []byte // the value when there is nothing to render
}

// HeaderOpsSchema is the JSON Schema of a headers field in either shape.
const HeaderOpsSchema = `{
	"type": "object",
	"anyOf": [
		{"properties": {
			"add": {"type": "object", "minProperties": 1, "additionalProperties": {"type": ["string", "number"]}},
			"set": {"type": "object", "minProperties": 1, "additionalProperties": {"type": ["string", "number"]}},
			"remove": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[^:]+$"}}
		}, "minProperties": 1, "additionalProperties": false},
		{"not": {"anyOf": [{"required": ["add"]}, {"required": ["set"]}, {"required": ["remove"]}]},
		 "minProperties": 1, "additionalProperties": {"type": ["string", "number"]}}
	]
}`

// ParseHeaderOps reads a headers field (JSON) in either shape.
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
			if kv[1] == "" {
				h.remove = append(h.remove, []byte(kv[0]))
				continue
			}
			op, err := newHeaderOp(kv[0], kv[1])
			if err != nil {
				return nil, fmt.Errorf("%s: %v", kv[0], err)
			}
			h.set = append(h.set, op)
		}
		return h, nil
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
			op, err := newHeaderOp(kv[0], kv[1])
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %v", f.name, kv[0], err)
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

// headerValues reads an object of strings or numbers as name/value pairs
// sorted by name.
func headerValues(raw []byte) ([][2]string, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	out := make([][2]string, 0, len(m))
	for k, v := range m {
		out = append(out, [2]string{k, fmt.Sprint(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out, nil
}

func newHeaderOp(name, value string) (headerOp, error) {
	t, err := CompileTemplate(value)
	if err != nil {
		return headerOp{}, err
	}
	op := headerOp{name: []byte(name), value: t}
	if t.Static() && !strings.Contains(value, `\$`) {
		op.fixed = []byte(value)
	}
	return op, nil
}

// Empty reports whether h changes nothing.
func (h *HeaderOps) Empty() bool { return len(h.add)+len(h.set)+len(h.remove) == 0 }

// ApplyHeaders puts h's edits into e: adds, then sets, then removals, as APISIX
// orders them.
func (c *Ctx) ApplyHeaders(h *HeaderOps, e *codec.Edits) {
	for i := range h.add {
		e.Add(h.add[i].name, c.headerValue(&h.add[i]))
	}
	for i := range h.set {
		e.Set(h.set[i].name, c.headerValue(&h.set[i]))
	}
	for _, n := range h.remove {
		e.Del(n)
	}
}

func (c *Ctx) headerValue(op *headerOp) []byte {
	if op.fixed != nil {
		return op.fixed
	}
	return c.Render(op.value)
}
