package core

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ConfigError is a rejected configuration: where, which key, and why.
type ConfigError struct {
	File   string
	Line   int
	Key    string
	Reason string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// decoder turns a YAML document into Go values strictly: an unknown key or a
// value of the wrong kind is an error naming file, line and key path, never
// silently dropped. It remembers the line of every path it saw so that later
// semantic checks can point at the same place.
type decoder struct {
	file  string
	lines map[string]int
	// reuse holds upstreams compiled by an earlier build from resources
	// that have not changed since (snapshot.go, decoder.upstream).
	reuse map[string]*UpstreamSet
}

// fieldDecoder lets a type decode itself (a field with several accepted shapes).
type fieldDecoder interface {
	decodeYAML(d *decoder, path string, n *yaml.Node) error
}

func decodeFile(path string, out any) (*decoder, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{File: path, Reason: err.Error()}
	}
	return decodeBytes(path, data, out)
}

func decodeBytes(file string, data []byte, out any) (*decoder, error) {
	return decodeBytesExcept(file, data, out, nil)
}

// decodeBytesExcept is decodeBytes leaving out the top-level keys in skip
// (when the document is a mapping).
func decodeBytesExcept(file string, data []byte, out any, skip []string) (*decoder, error) {
	d := &decoder{file: file, lines: map[string]int{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 0
		msg := err.Error()
		// yaml.v3 says "yaml: line N: reason".
		if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
			if i := strings.IndexByte(rest, ':'); i > 0 {
				line, _ = strconv.Atoi(rest[:i])
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
		return d, &ConfigError{File: file, Line: line, Reason: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return d, nil // an empty file is an empty config
	}
	if root := doc.Content[0]; len(skip) > 0 && root.Kind == yaml.MappingNode {
		kept := root.Content[:0:0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if !slices.Contains(skip, root.Content[i].Value) {
				kept = append(kept, root.Content[i], root.Content[i+1])
			}
		}
		root.Content = kept
	}
	return d, d.decode("", doc.Content[0], reflect.ValueOf(out).Elem())
}

func (d *decoder) errf(path string, n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	} else {
		line = d.lines[path]
	}
	return &ConfigError{File: d.file, Line: line, Key: path, Reason: fmt.Sprintf(format, args...)}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "null"
	}
	return fmt.Sprintf("%q", n.Value)
}

var fieldDecoderType = reflect.TypeOf((*fieldDecoder)(nil)).Elem()

func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.lines[path] = n.Line
	if v.CanAddr() && v.Addr().Type().Implements(fieldDecoderType) {
		return v.Addr().Interface().(fieldDecoder).decodeYAML(d, path, n)
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" && v.Kind() != reflect.Interface {
		return nil // null leaves the default
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return d.decode(path, n, v.Elem())
	case reflect.Struct:
		return d.decodeStruct(path, n, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return d.errf(path, n, "want a list, got %s", kindName(n))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if err := d.decode(fmt.Sprintf("%s[%d]", path, i), c, s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return d.errf(path, n, "want a mapping, got %s", kindName(n))
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := d.decode(join(path, k.Value), val, ev); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
		return nil
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			return d.errf(path, n, "%v", err)
		}
		x, err := plainJSON(x)
		if err != nil {
			return d.errf(path, n, "%v", err)
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return d.errf(path, n, "want a %s, got %s", v.Kind(), kindName(n))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if err != nil || n.Tag != "!!bool" {
			return d.errf(path, n, "want true or false, got %q", n.Value)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint16:
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			return d.errf(path, n, "want an integer, got %q", n.Value)
		}
		if v.OverflowInt(i) || (v.Kind() == reflect.Uint16 && (i < 0 || i > math.MaxUint16)) {
			return d.errf(path, n, "%d is out of range", i)
		}
		if v.Kind() == reflect.Uint16 {
			v.SetUint(uint64(i))
		} else {
			v.SetInt(i)
		}
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			return d.errf(path, n, "want a number, got %q", n.Value)
		}
		v.SetFloat(f)
	default:
		return d.errf(path, n, "cannot hold a %s here", v.Kind())
	}
	return nil
}

func (d *decoder) decodeStruct(path string, n *yaml.Node, v reflect.Value) error {
	if n.Kind != yaml.MappingNode {
		return d.errf(path, n, "want a mapping, got %s", kindName(n))
	}
	t := v.Type()
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := join(path, k.Value)
		if seen[k.Value] {
			return d.errf(key, k, "duplicate key")
		}
		seen[k.Value] = true
		f, ok := fieldByTag(t, k.Value)
		if !ok {
			return d.errf(key, k, "unknown key (known here: %s)", strings.Join(knownKeys(t), ", "))
		}
		if note := t.FieldByIndex(f.Index).Tag.Get("unsupported"); note != "" && !isEmptyNode(val) {
			return d.errf(key, k, "not supported yet: %s", note)
		}
		if err := d.decode(key, val, v.FieldByIndex(f.Index)); err != nil {
			return err
		}
	}
	return nil
}

func isEmptyNode(n *yaml.Node) bool {
	return (n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Value == "")) ||
		((n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && len(n.Content) == 0)
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tagName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func tagName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	if name, _, _ := strings.Cut(tag, ","); name != "" {
		return name
	}
	return strings.ToLower(f.Name)
}

func knownKeys(t reflect.Type) []string {
	var ks []string
	for i := 0; i < t.NumField(); i++ {
		if name := tagName(t.Field(i)); name != "" {
			ks = append(ks, name)
		}
	}
	sort.Strings(ks)
	return ks
}

// IsConfigError reports whether err is a rejected configuration.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }
