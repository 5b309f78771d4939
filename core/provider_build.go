package core

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Resource kinds as APISIX names them in etcd keys and Admin API paths.
const (
	KindRoutes       = "routes"
	KindUpstreams    = "upstreams"
	KindStreamRoutes = "stream_routes"
)

// ResourceKinds lists every APISIX v3 resource kind, served or not, in the
// order of the Resources struct.
func ResourceKinds() []string {
	t := reflect.TypeOf(Resources{})
	var ks []string
	for i := 0; i < t.NumField(); i++ {
		if n := tagName(t.Field(i)); n != "" {
			ks = append(ks, n)
		}
	}
	return ks
}

// KindSupport says whether kind is an APISIX resource kind and, when sluice
// cannot serve it yet, why (the Resources field's `unsupported` tag).
func KindSupport(kind string) (known bool, unsupported string) {
	f, ok := fieldByTag(reflect.TypeOf(Resources{}), kind)
	if !ok {
		return false, ""
	}
	return true, f.Tag.Get("unsupported")
}

// Item is one resource from a provider that stores them one per key (etcd):
// its kind, id and revisions, and the decoded object (*Route, *Upstream,
// *Service, … as newResource makes them).
type Item struct {
	Kind     string
	ID       string
	Key      string // where it came from, for errors
	Created  int64  // etcd create revision: resources are ordered by it
	Modified int64
	Value    any
}

// timeFields are bookkeeping fields the Admin API adds to stored values
// (APISIX's create_time and update_time); they are not part of the object.
var timeFields = []string{"create_time", "update_time"}

// DecodeItem decodes one stored resource (JSON, or any YAML) strictly: an
// unknown or unsupported field is an error naming it. name is used in errors
// (the etcd key).
func DecodeItem(kind, name string, data []byte) (any, error) {
	v := newResource(kind)
	if v == nil {
		if known, why := KindSupport(kind); known {
			return nil, &ConfigError{File: name, Reason: "not supported yet: " + why}
		}
		return nil, &ConfigError{File: name, Reason: fmt.Sprintf("unknown resource kind %q", kind)}
	}
	// The Admin API's bookkeeping fields are not part of the object.
	if _, err := decodeBytesExcept(name, data, v, timeFields); err != nil {
		return nil, err
	}
	return v, nil
}

// Assemble orders items into Resources: each kind by creation revision, then
// id, which is the etcd provider's counterpart of "file order". refs maps
// each resource back to its item, for errors: refs["routes"][3] is the
// item of res.Routes[3].
func Assemble(items []*Item) (res *Resources, refs map[string][]*Item) {
	less := func(a, b *Item) bool {
		if a.Created != b.Created {
			return a.Created < b.Created
		}
		return a.ID < b.ID
	}
	sorted := items
	// The etcd provider keeps its items in this order already.
	if !sort.SliceIsSorted(items, func(i, j int) bool { return less(items[i], items[j]) }) {
		sorted = append([]*Item(nil), items...)
		sort.Slice(sorted, func(i, j int) bool { return less(sorted[i], sorted[j]) })
	}
	res = &Resources{}
	var n [3]int
	for _, it := range sorted {
		switch it.Value.(type) {
		case *Route:
			n[0]++
		case *Upstream:
			n[1]++
		case *StreamRoute:
			n[2]++
		}
	}
	res.Routes = make([]Route, 0, n[0])
	res.Upstreams = make([]Upstream, 0, n[1])
	res.StreamRoutes = make([]StreamRoute, 0, n[2])
	refs = map[string][]*Item{}
	for _, it := range sorted {
		kind, idx := appendResource(res, it.Value)
		if idx < 0 {
			continue
		}
		if kr := refs[kind]; len(kr) == idx {
			refs[kind] = append(kr, it)
		}
	}
	return res, refs
}

// BuildSnapshot compiles resources that did not come from a file (etcd, the
// Admin API's write checks) into a snapshot. source names them in errors.
// Both providers end here: the standalone file through LoadResources, etcd
// through this.
func BuildSnapshot(cfg *Config, res *Resources, source string, loops int) (*Snapshot, error) {
	return build(cfg, res, &decoder{file: source, lines: map[string]int{}}, loops)
}

// BuildTolerant builds items into a snapshot, leaving out each item that the
// build rejects (a value written to etcd behind the Admin API's back) so one
// bad key never stops every later change from applying. Each left-out item
// is reported through skip.
func BuildTolerant(cfg *Config, items []*Item, source string, loops int, skip func(*Item, error)) (*Snapshot, error) {
	snap, _, err := buildTolerant(cfg, items, source, loops, nil, skip)
	return snap, err
}

// buildTolerant is BuildTolerant reusing compiled upstreams (decoder.reuse).
// It also returns which item each resource of the snapshot came from
// (Assemble's refs).
func buildTolerant(cfg *Config, items []*Item, source string, loops int, reuse map[string]*UpstreamSet, skip func(*Item, error)) (*Snapshot, map[string][]*Item, error) {
	live := items
	for range len(items) + 1 {
		res, refs := Assemble(live)
		snap, err := build(cfg, res, &decoder{file: source, lines: map[string]int{}, reuse: reuse}, loops)
		if err == nil {
			return snap, refs, nil
		}
		bad := culprit(err, refs)
		if bad == nil {
			return nil, nil, err
		}
		skip(bad, err)
		next := make([]*Item, 0, len(live)-1)
		for _, it := range live {
			if it != bad {
				next = append(next, it)
			}
		}
		live = next
	}
	return nil, nil, errors.New("core: build did not converge")
}

// culprit finds the item a build error points at ("stream_routes[3].upstream_id").
func culprit(err error, refs map[string][]*Item) *Item {
	var ce *ConfigError
	if !errors.As(err, &ce) {
		return nil
	}
	kind, rest, ok := strings.Cut(ce.Key, "[")
	if !ok {
		return nil
	}
	idx, _, ok := strings.Cut(rest, "]")
	i, err := strconv.Atoi(idx)
	if !ok || err != nil || i < 0 || i >= len(refs[kind]) {
		return nil
	}
	return refs[kind][i]
}
