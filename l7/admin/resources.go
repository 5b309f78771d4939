package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/sluice-gateway/sluice/core"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// node is one resource in APISIX v3's response shape.
type node struct {
	Key      string          `json:"key"`
	Value    json.RawMessage `json:"value"`
	Created  int64           `json:"createdIndex"`
	Modified int64           `json:"modifiedIndex"`
}

func toNode(kv *mvccpb.KeyValue) node {
	return node{Key: string(kv.Key), Value: kv.Value, Created: kv.CreateRevision, Modified: kv.ModRevision}
}

var idPattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)

func checkID(id string) error {
	if !idPattern.MatchString(id) {
		return errorf(http.StatusBadRequest, "invalid id %q: want 1 to 64 of a-z A-Z 0-9 _ . -", id)
	}
	return nil
}

func (s *Server) key(kind, id string) string { return s.prefix + "/" + kind + "/" + id }

// available fails fast with 503 when the client has no working connection
// to any member, rather than waiting for the timeout. An in-process client
// (the embedded member's) has no connection to lose.
func (s *Server) available() error {
	if cc := s.o.Client.ActiveConnection(); cc != nil && cc.GetState() == connectivity.TransientFailure {
		return errorf(http.StatusServiceUnavailable, "etcd is unavailable: no member answers")
	}
	return nil
}

// storeError maps an etcd failure to a status: anything that says the
// cluster cannot answer now is 503.
func storeError(err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, rpctypes.ErrNoLeader) ||
		errors.Is(err, rpctypes.ErrTimeout) || errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail) {
		return errorf(http.StatusServiceUnavailable, "etcd is unavailable: %v", err)
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
			return errorf(http.StatusServiceUnavailable, "etcd is unavailable: %v", st.Message())
		}
	}
	return errorf(http.StatusInternalServerError, "etcd: %v", err)
}

func (s *Server) get(ctx context.Context, kind, id string) (int, any, error) {
	resp, err := s.o.Client.Get(ctx, s.key(kind, id))
	if err != nil {
		return 0, nil, storeError(err)
	}
	if len(resp.Kvs) == 0 {
		return 0, nil, errorf(http.StatusNotFound, "%s %s not found", singular(kind), id)
	}
	return http.StatusOK, toNode(resp.Kvs[0]), nil
}

// list answers with every resource of the kind, or a page of them when page
// or page_size is given; name and label filter as APISIX's do.
func (s *Server) list(ctx context.Context, kind string, r *http.Request) (int, any, error) {
	resp, err := s.o.Client.Get(ctx, s.prefix+"/"+kind+"/", clientv3.WithPrefix())
	if err != nil {
		return 0, nil, storeError(err)
	}
	q := r.URL.Query()
	name, label := q.Get("name"), q.Get("label")
	items := make([]node, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if name != "" || label != "" {
			var meta struct {
				Name   string            `json:"name"`
				Labels map[string]string `json:"labels"`
			}
			json.Unmarshal(kv.Value, &meta)
			if name != "" && !strings.Contains(meta.Name, name) {
				continue
			}
			if label != "" {
				k, v, hasV := strings.Cut(label, ":")
				got, ok := meta.Labels[k]
				if !ok || (hasV && got != v) {
					continue
				}
			}
		}
		items = append(items, toNode(kv))
	}
	total := len(items)
	if q.Has("page") || q.Has("page_size") {
		page, size := 1, 10
		if v := q.Get("page"); v != "" {
			if page, err = strconv.Atoi(v); err != nil || page < 1 {
				return 0, nil, errorf(http.StatusBadRequest, "page: want an integer from 1, got %q", v)
			}
		}
		if v := q.Get("page_size"); v != "" {
			if size, err = strconv.Atoi(v); err != nil || size < 10 || size > 500 {
				return 0, nil, errorf(http.StatusBadRequest, "page_size: want an integer from 10 to 500, got %q", v)
			}
		}
		lo := min((page-1)*size, total)
		items = items[lo:min(lo+size, total)]
	}
	return http.StatusOK, map[string]any{"total": total, "list": items}, nil
}

func parseBody(body []byte) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errorf(http.StatusBadRequest, "empty body: want a JSON object")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid JSON: %v", err)
	}
	return doc, nil
}

// validate runs the schema and unsupported-field checks.
func (s *Server) validate(kind string, doc any) error {
	if err := s.v.Validate(kind, doc); err != nil {
		var ve *core.ValidationError
		if errors.As(err, &ve) {
			return &apiError{status: http.StatusBadRequest, msg: err.Error(), fields: ve.Fields}
		}
		return errorf(http.StatusBadRequest, "%v", err)
	}
	return nil
}

func (s *Server) put(ctx context.Context, kind, id string, body []byte) (int, any, error) {
	doc, err := parseBody(body)
	if err != nil {
		return 0, nil, err
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return 0, nil, errorf(http.StatusBadRequest, "want a JSON object")
	}
	bodyID, err := idOf(kind, obj)
	if err != nil {
		return 0, nil, err
	}
	switch {
	case id == "" && bodyID == "" && postRefused(kind) != "":
		return 0, nil, errorf(http.StatusBadRequest, "missing %s %s: PUT /apisix/admin/%s/<%[2]s>, or give it in the body", singular(kind), idKey(kind), kind)
	case id == "" && bodyID == "":
		return 0, nil, errorf(http.StatusBadRequest, "missing %s id: PUT /apisix/admin/%s/<id>, or POST to generate one", singular(kind), kind)
	case id == "":
		id = bodyID
	case bodyID != "" && bodyID != id:
		return 0, nil, errorf(http.StatusBadRequest, "wrong %s %s: the body says %q, the path %q", singular(kind), idKey(kind), bodyID, id)
	}
	return s.write(ctx, kind, id, obj, writeAny, 0)
}

func (s *Server) post(ctx context.Context, kind string, body []byte) (int, any, error) {
	doc, err := parseBody(body)
	if err != nil {
		return 0, nil, err
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return 0, nil, errorf(http.StatusBadRequest, "want a JSON object")
	}
	if why := postRefused(kind); why != "" {
		return 0, nil, errorf(http.StatusMethodNotAllowed, "%s", why)
	}
	if _, has := obj["id"]; has {
		return 0, nil, errorf(http.StatusBadRequest, "POST generates the id: drop \"id\" from the body, or PUT /apisix/admin/%s/<id>", kind)
	}
	for range 5 {
		id := fmt.Sprintf("%020d", time.Now().UnixNano())
		st, out, err := s.write(ctx, kind, id, obj, writeCreate, 0)
		if !errors.Is(err, errExists) {
			return st, out, err
		}
	}
	return 0, nil, errorf(http.StatusConflict, "could not generate a free id")
}

func idOf(kind string, obj map[string]any) (string, error) {
	v, ok := obj[idKey(kind)]
	if !ok {
		return "", nil
	}
	var id string
	switch x := v.(type) {
	case string:
		id = x
	case json.Number:
		id = x.String()
	default:
		return "", errorf(http.StatusBadRequest, "%s: want a string or an integer", idKey(kind))
	}
	if err := checkKindID(kind, id); err != nil {
		return "", err
	}
	return id, nil
}

type writeMode int

const (
	writeAny    writeMode = iota // PUT: create or replace
	writeCreate                  // POST: the key must be new
	writeUpdate                  // PATCH: the key must still be at revision rev
)

var (
	errExists   = errors.New("admin: key exists")
	errConflict = errors.New("admin: changed meanwhile")
)

// write validates obj as resource kind/id and stores it in one etcd
// transaction that also checks, by mod revision, every resource it refers
// to and (for a replace) the value it replaces: a concurrent DELETE of a
// reference cannot slip in between, and a concurrent write to the same key
// cannot lose its create_time to this one.
//
// What it refers to and the current value come from the node's view of
// etcd (Options.View) when there is one, so a write is one round trip; a
// view that is behind makes the transaction fail, and its Else branch
// brings the current values for the next attempt. Without a view, or for a
// reference the view has not seen, they are read first.
func (s *Server) write(ctx context.Context, kind, id string, obj map[string]any, mode writeMode, rev int64) (int, any, error) {
	obj[idKey(kind)] = id
	delete(obj, "create_time")
	delete(obj, "update_time")
	if err := s.validate(kind, obj); err != nil {
		return 0, nil, err
	}
	val, err := json.Marshal(obj)
	if err != nil {
		return 0, nil, errorf(http.StatusBadRequest, "%v", err)
	}
	key := s.key(kind, id)
	item, err := core.DecodeItem(kind, key, val)
	if err != nil {
		return 0, nil, errorf(http.StatusBadRequest, "invalid %s: %v", singular(kind), err)
	}
	refs := refsOf(item)
	keys := make([]string, 1+len(refs))
	keys[0] = key
	for i, r := range refs {
		keys[i+1] = s.key(r.kind, r.id)
	}
	// known holds each key's state as last learnt: from the view, a read,
	// or a failed transaction's Else branch.
	known := make([]stored, len(keys))
	if s.o.View != nil {
		for i, k := range keys {
			known[i] = fromView(s.o.View, k)
		}
	}
	var compiled []int64 // the references' revisions the compile check passed with
	for range 5 {
		// A reference that looks absent is read before it is called missing:
		// the view may not have seen it yet.
		var unsure []int
		for i := range keys {
			if !known[i].sure && (i > 0 || s.o.View == nil) {
				unsure = append(unsure, i)
			}
		}
		if len(unsure) > 0 {
			ops := make([]clientv3.Op, len(unsure))
			for j, i := range unsure {
				ops[j] = clientv3.OpGet(keys[i])
			}
			tr, err := s.o.Client.Txn(ctx).Then(ops...).Commit()
			if err != nil {
				return 0, nil, storeError(err)
			}
			for j, i := range unsure {
				known[i] = fromRange(tr.Responses[j].GetResponseRange())
			}
		}
		refItems := map[string]*core.Item{}
		revs := make([]int64, len(refs))
		for i, r := range refs {
			st := known[i+1]
			if !st.present {
				return 0, nil, errorf(http.StatusBadRequest, "failed to fetch %s info by %s id [%s]: no such %s", singular(r.kind), singular(r.kind), r.id, singular(r.kind))
			}
			it := st.item
			if it == nil {
				v, err := core.DecodeItem(r.kind, keys[i+1], st.value)
				if err != nil {
					return 0, nil, errorf(http.StatusBadRequest, "%s %s is invalid in the store: %v", singular(r.kind), r.id, err)
				}
				it = &core.Item{Kind: r.kind, ID: r.id, Key: keys[i+1], Value: v}
			}
			refItems[r.kind+"/"+r.id] = it
			revs[i] = st.mod
		}
		if compiled == nil || !slices.Equal(compiled, revs) {
			if kind == core.KindConsumers {
				if err := s.otherConsumers(ctx, id, refItems); err != nil {
					return 0, nil, err
				}
			}
			if err := s.indirect(refItems); err != nil {
				return 0, nil, err
			}
			if err := s.compile(kind, id, item, refItems); err != nil {
				return 0, nil, err
			}
			compiled = revs
		}
		cur := known[0]
		now := time.Now().Unix()
		obj["update_time"] = now
		obj["create_time"] = now
		cmps := make([]clientv3.Cmp, 0, len(keys))
		for i := range refs {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(keys[i+1]), "=", known[i+1].mod))
		}
		switch {
		case mode == writeCreate:
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(key), "=", 0))
		case mode == writeUpdate:
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", rev))
		case cur.present:
			// Replace exactly the value whose create_time is kept, or
			// start over.
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", cur.mod))
		default:
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(key), "=", 0))
		}
		if cur.present {
			var old struct {
				CreateTime *int64 `json:"create_time"`
			}
			if json.Unmarshal(cur.value, &old) == nil && old.CreateTime != nil {
				obj["create_time"] = *old.CreateTime
			}
		}
		if val, err = json.Marshal(obj); err != nil {
			return 0, nil, errorf(http.StatusBadRequest, "%v", err)
		}
		elses := make([]clientv3.Op, len(keys))
		for i, k := range keys {
			elses[i] = clientv3.OpGet(k)
		}
		tr, err := s.o.Client.Txn(ctx).If(cmps...).Then(clientv3.OpPut(key, string(val)), clientv3.OpGet(key)).Else(elses...).Commit()
		if err != nil {
			return 0, nil, storeError(err)
		}
		if tr.Succeeded {
			kv := tr.Responses[1].GetResponseRange().Kvs[0]
			st := http.StatusOK
			if kv.CreateRevision == kv.ModRevision {
				st = http.StatusCreated
			}
			return st, toNode(kv), nil
		}
		// Something differs from what was assumed: learn what is there now.
		for i := range keys {
			known[i] = fromRange(tr.Responses[i].GetResponseRange())
		}
		switch {
		case mode == writeCreate && known[0].present:
			return 0, nil, errExists
		case mode == writeUpdate && known[0].mod != rev:
			return 0, nil, errConflict
		}
	}
	return 0, nil, errorf(http.StatusConflict, "%s %s kept changing; try again", singular(kind), id)
}

// stored is a key's state as a write learnt it.
type stored struct {
	sure    bool // read from etcd (absent means absent), not only missing from the view
	present bool
	value   []byte
	item    *core.Item // decoded by the view; nil: decode value
	mod     int64
}

func fromView(v View, key string) stored {
	kv, ok := v.Lookup(key)
	if !ok {
		return stored{}
	}
	return stored{sure: true, present: true, value: kv.Value, item: kv.Item, mod: kv.Modified}
}

func fromRange(r *etcdserverpb.RangeResponse) stored {
	if r == nil || len(r.Kvs) == 0 {
		return stored{sure: true}
	}
	kv := r.Kvs[0]
	return stored{sure: true, present: true, value: kv.Value, mod: kv.ModRevision}
}

type refKey struct{ kind, id string }

// compile builds the resource with what it refers to, exactly as the data
// plane will, so a write that the data plane would reject is a 400 here.
func (s *Server) compile(kind, id string, v any, refs map[string]*core.Item) error {
	items := []*core.Item{{Kind: kind, ID: id, Created: 2, Value: v}}
	for _, it := range refs {
		c := *it // it may be the view's: never change it
		c.Created = 1
		items = append(items, &c)
	}
	res, _ := core.Assemble(items)
	snap, err := core.BuildSnapshot(s.o.Config, res, "request", s.o.Loops)
	if err == nil {
		for _, h := range s.o.Compile {
			if herr := h(snap); herr != nil {
				return errorf(http.StatusBadRequest, "invalid %s: %v", singular(kind), herr)
			}
		}
	}
	if err != nil {
		var ce *core.ConfigError
		msg := err.Error()
		if errors.As(err, &ce) {
			msg = ce.Reason
			if _, field, ok := strings.Cut(ce.Key, "]."); ok {
				msg = field + ": " + ce.Reason
			} else if !strings.Contains(ce.Key, "[") && ce.Key != "" {
				msg = ce.Key + ": " + ce.Reason
			}
		}
		return errorf(http.StatusBadRequest, "invalid %s: %s", singular(kind), msg)
	}
	return nil
}

// patch merges body into the stored value (RFC 7396), or with a sub-path
// replaces the value there, then validates and stores the result as a whole.
func (s *Server) patch(ctx context.Context, kind, id string, sub []string, body []byte) (int, any, error) {
	var patchDoc any
	if err := decodeJSON(body, &patchDoc); err != nil {
		return 0, nil, err
	}
	for try := range 5 {
		// The view first (a stale value fails the write's revision compare
		// and costs a retry), then etcd itself.
		var st stored
		if s.o.View != nil && try == 0 {
			st = fromView(s.o.View, s.key(kind, id))
		}
		if !st.present {
			resp, err := s.o.Client.Get(ctx, s.key(kind, id))
			if err != nil {
				return 0, nil, storeError(err)
			}
			if len(resp.Kvs) == 0 {
				return 0, nil, errorf(http.StatusNotFound, "%s %s not found", singular(kind), id)
			}
			st = stored{present: true, value: resp.Kvs[0].Value, mod: resp.Kvs[0].ModRevision}
		}
		var cur any
		var err error
		if err := decodeJSON(st.value, &cur); err != nil {
			return 0, nil, errorf(http.StatusInternalServerError, "stored %s %s is not JSON", singular(kind), id)
		}
		var next any
		if len(sub) == 0 {
			next = mergePatch(cur, patchDoc)
		} else {
			if next, err = setPath(cur, sub, patchDoc); err != nil {
				return 0, nil, err
			}
		}
		obj, ok := next.(map[string]any)
		if !ok {
			return 0, nil, errorf(http.StatusBadRequest, "the patched %s is not a JSON object", singular(kind))
		}
		if v, has := obj[idKey(kind)]; has && fmt.Sprint(v) != id {
			return 0, nil, errorf(http.StatusBadRequest, "wrong %s %s: the patch sets %v, the path says %q", singular(kind), idKey(kind), v, id)
		}
		code, out, err := s.write(ctx, kind, id, obj, writeUpdate, st.mod)
		if !errors.Is(err, errConflict) {
			return code, out, err
		}
	}
	return 0, nil, errorf(http.StatusConflict, "%s %s kept changing; try again", singular(kind), id)
}

func decodeJSON(data []byte, out *any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errorf(http.StatusBadRequest, "empty body")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(out); err != nil {
		return errorf(http.StatusBadRequest, "invalid JSON: %v", err)
	}
	if d.More() {
		return errorf(http.StatusBadRequest, "invalid JSON: data after the value")
	}
	return nil
}

// mergePatch applies an RFC 7396 JSON merge patch.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
		} else {
			t[k] = mergePatch(t[k], v)
		}
	}
	return t
}

// setPath replaces the value at path (object keys) inside doc.
func setPath(doc any, path []string, v any) (any, error) {
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, errorf(http.StatusBadRequest, "the stored value is not a JSON object")
	}
	m := root
	for i, k := range path {
		if k == "" {
			return nil, errorf(http.StatusBadRequest, "empty segment in the sub-path")
		}
		if i == len(path)-1 {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
			break
		}
		next, ok := m[k].(map[string]any)
		if !ok {
			if m[k] != nil {
				return nil, errorf(http.StatusBadRequest, "/%s is not an object", strings.Join(path[:i+1], "/"))
			}
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	return root, nil
}

// del removes a resource unless something refers to it. The check and the
// delete are one transaction: it fails if any referring kind changed since
// the check, and the check is then made again.
func (s *Server) del(ctx context.Context, kind, id string) (int, any, error) {
	key := s.key(kind, id)
	referrers := core.Referrers(kind)
	for range 5 {
		var cmps []clientv3.Cmp
		if len(referrers) > 0 {
			ops := make([]clientv3.Op, len(referrers))
			for i, r := range referrers {
				ops[i] = clientv3.OpGet(s.prefix+"/"+r.Kind+"/", clientv3.WithPrefix())
			}
			tr, err := s.o.Client.Txn(ctx).Then(ops...).Commit()
			if err != nil {
				return 0, nil, storeError(err)
			}
			for i, r := range referrers {
				k := r.Kind
				var users []string
				for _, kv := range tr.Responses[i].GetResponseRange().Kvs {
					var doc any
					if decodeJSON(kv.Value, &doc) != nil {
						continue
					}
					if ref, ok := doc.(map[string]any); ok && ref[r.Field] != nil && fmt.Sprint(ref[r.Field]) == id {
						users = append(users, string(kv.Key[len(s.prefix)+len(k)+2:]))
					}
				}
				if len(users) > 0 {
					sort.Strings(users)
					return 0, nil, errorf(http.StatusBadRequest, "can not delete this %s, %s [%s] is still using it now", singular(kind), singular(k), strings.Join(users, ", "))
				}
				cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.prefix+"/"+k+"/"), "<", tr.Header.Revision+1).WithPrefix())
			}
		}
		tr, err := s.o.Client.Txn(ctx).If(cmps...).Then(clientv3.OpDelete(key)).Commit()
		if err != nil {
			return 0, nil, storeError(err)
		}
		if !tr.Succeeded {
			continue
		}
		if tr.Responses[0].GetResponseDeleteRange().Deleted == 0 {
			return 0, nil, errorf(http.StatusNotFound, "%s %s not found", singular(kind), id)
		}
		return http.StatusOK, map[string]string{"deleted": "1", "key": key}, nil
	}
	return 0, nil, errorf(http.StatusConflict, "what refers to %s %s kept changing; try again", singular(kind), id)
}

func singular(kind string) string { return strings.TrimSuffix(kind, "s") }
