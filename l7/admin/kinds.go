package admin

import (
	"context"
	"net/http"
	"regexp"

	"github.com/sluice-gateway/sluice/core"
)

// What differs between kinds: the field that holds the key (a consumer's
// username), what a key may look like, whether POST can make one up.

// idKey is the field of a kind's objects that its etcd key repeats.
func idKey(kind string) string {
	if kind == core.KindConsumers {
		return "username"
	}
	return "id"
}

// usernamePattern is APISIX's for consumers (no dots, unlike ids).
var usernamePattern = regexp.MustCompile(`^[a-zA-Z0-9_\-]{1,100}$`)

// checkKindID checks a key taken from a path or a body.
func checkKindID(kind, id string) error {
	if kind == core.KindConsumers {
		if !usernamePattern.MatchString(id) {
			return errorf(http.StatusBadRequest, "invalid username %q: want 1 to 100 of a-z A-Z 0-9 _ -", id)
		}
		return nil
	}
	return checkID(id)
}

// postRefused says why POST cannot create a resource of kind ("" if it
// can): consumers are named by their username and plugin metadata by its
// plugin, so there is no id to generate.
func postRefused(kind string) string {
	switch kind {
	case core.KindConsumers:
		return "POST cannot create a consumer: consumers are named by username; PUT /apisix/admin/consumers with the username in the body, or PUT /apisix/admin/consumers/<username>"
	case core.KindPluginMetadata:
		return "POST cannot create plugin metadata: it is named by its plugin; PUT /apisix/admin/plugin_metadata/<plugin name>"
	}
	return ""
}

// refsOf lists what a resource refers to by id (core.References).
func refsOf(v any) []refKey {
	refs := core.References(v)
	out := make([]refKey, len(refs))
	for i, r := range refs {
		out[i] = refKey{r.Kind, r.ID}
	}
	return out
}

// indirect adds to refs what the referenced resources refer to in turn (a
// route's service's upstream), read from the store, so the write's compile
// check builds the whole chain as the data plane will. They need no
// revision compare in the write's transaction: the direct references are
// compared, and while a direct one still refers to them, they cannot be
// deleted.
func (s *Server) indirect(refs map[string]*core.Item) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.o.Timeout)
	defer cancel()
	queue := make([]*core.Item, 0, len(refs))
	for _, it := range refs {
		queue = append(queue, it)
	}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		for _, r := range refsOf(it.Value) {
			k := r.kind + "/" + r.id
			if refs[k] != nil {
				continue
			}
			if s.o.View != nil { // as the node has it: no read
				if kv, ok := s.o.View.Lookup(s.key(r.kind, r.id)); ok && kv.Item != nil {
					refs[k] = kv.Item
					queue = append(queue, kv.Item)
					continue
				}
			}
			resp, err := s.o.Client.Get(ctx, s.key(r.kind, r.id))
			if err != nil {
				return storeError(err)
			}
			if len(resp.Kvs) == 0 {
				return errorf(http.StatusBadRequest, "%s %s refers to %s %s, which does not exist", singular(it.Kind), it.ID, singular(r.kind), r.id)
			}
			v, err := core.DecodeItem(r.kind, string(resp.Kvs[0].Key), resp.Kvs[0].Value)
			if err != nil {
				return errorf(http.StatusBadRequest, "%s %s is invalid in the store: %v", singular(r.kind), r.id, err)
			}
			ref := &core.Item{Kind: r.kind, ID: r.id, Key: string(resp.Kvs[0].Key), Value: v}
			refs[k] = ref
			queue = append(queue, ref)
		}
	}
	return nil
}
