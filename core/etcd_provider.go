package core

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/metadata"
)

// EtcdProvider keeps the snapshot in step with the resources under a key
// prefix in etcd, one key per resource as APISIX lays them out
// (<prefix>/routes/<id>, <prefix>/upstreams/<id>, …, JSON values). It reads
// everything once, then watches from that revision: every batch of events
// rebuilds the snapshot and publishes it. A broken watch resumes from the
// last revision seen; a compacted one is answered by a full re-read that
// replaces the snapshot whole.
type EtcdProvider struct {
	cfg    *Config
	client *clientv3.Client
	prefix string // with the trailing slash
	store  *Store
	loops  int
	// cache, when set, receives the last full config after each change, and
	// LoadCache starts from it when etcd cannot be reached.
	cache string

	mu    sync.Mutex // guards items, order, rev, dirty and all
	items map[string]*etcdEntry
	// order is items sorted by creation revision (then key), the order
	// resources are built in; kept as changes arrive so a build never sorts.
	order []*etcdEntry
	rev   int64
	// dirty holds the keys changed since the last published snapshot; all
	// says everything was (re)read and nothing compiled can be reused.
	dirty map[string]bool
	all   bool
	// buildMu serializes builds: each publishes a state newer than the last.
	buildMu sync.Mutex
	// last is the snapshot this provider published last, and rejected the
	// keys a compile hook refused in it (guarded by buildMu).
	last     *Snapshot
	rejected map[string]bool
	// lastRoute holds the items of last.Routes, by route id: what a
	// change to routes alone is placed by (etcd_routes.go).
	lastRoute map[string]*Item
	// kick wakes the builder. The watch only records changes; the builder
	// takes all that arrived while it was busy, so a burst of writes costs a
	// few rebuilds, not one per write, and a lone change waits for none.
	kick chan struct{}

	watches   int          // watch streams opened (Run's goroutine only)
	live      atomic.Int64 // revision of the published snapshot
	ready     atomic.Bool
	fromCache atomic.Bool
	cacheKick chan struct{}
}

type etcdEntry struct {
	key  string
	item *Item // nil: the value was rejected (logged) and is left out
	raw  []byte
	cr   int64
	mr   int64
}

// NewEtcdProvider watches cfg.Etcd.Prefix through client and publishes to
// store. cachePath ("" for none) is where the last full config is kept.
func NewEtcdProvider(cfg *Config, client *clientv3.Client, store *Store, loops int, cachePath string) *EtcdProvider {
	return &EtcdProvider{
		cfg: cfg, client: client, prefix: cfg.Etcd.Prefix + "/", store: store, loops: loops,
		cache: cachePath, items: map[string]*etcdEntry{}, cacheKick: make(chan struct{}, 1), kick: make(chan struct{}, 1),
		dirty: map[string]bool{}, all: true,
	}
}

// Ready reports whether a full config has been loaded (from etcd, or from
// the local cache when etcd was unreachable at start).
func (p *EtcdProvider) Ready() bool { return p.ready.Load() }

// FromCache reports whether the config in force came from the local cache
// and etcd has not been read since.
func (p *EtcdProvider) FromCache() bool { return p.fromCache.Load() }

// Revision is the etcd revision the published snapshot reflects.
func (p *EtcdProvider) Revision() int64 { return p.live.Load() }

// Load reads every resource under the prefix and publishes the snapshot.
func (p *EtcdProvider) Load(ctx context.Context) error {
	resp, err := p.client.Get(ctx, p.prefix, clientv3.WithPrefix())
	if err != nil {
		return err
	}
	items := make(map[string]*etcdEntry, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		items[string(kv.Key)] = p.decode(string(kv.Key), kv.Value, kv.CreateRevision, kv.ModRevision)
	}
	p.replaceAll(items, resp.Header.Revision)
	p.fromCache.Store(false)
	if err := p.publish(); err != nil {
		return err
	}
	p.ready.Store(true)
	return nil
}

// Run watches until ctx ends. Call it after a successful Load or LoadCache
// (or neither: it then starts with a full read, retrying until etcd answers).
func (p *EtcdProvider) Run(ctx context.Context) {
	if p.cache != "" {
		go p.cacheWriter(ctx)
	}
	go p.builder(ctx)
	full := !p.Ready() || p.FromCache()
	backoff := newBackoff()
	for ctx.Err() == nil {
		if full {
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := p.Load(lctx)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					WarnOnce("etcd-load", "etcd: full read of %s failed, retrying: %v", p.prefix, err)
				}
				backoff.wait(ctx)
				continue
			}
			ResetOnce()
			Infof("etcd: loaded %d keys under %s at revision %d", p.count(), p.prefix, p.rev)
			full = false
		}
		var err error
		before := p.rev
		full, err = p.watch(ctx)
		if p.rev > before {
			backoff = newBackoff()
		}
		if ctx.Err() != nil {
			return
		}
		if full {
			Warnf("etcd: watch from revision %d: history compacted; re-reading everything", p.rev+1)
			continue
		}
		if err != nil {
			WarnOnce("etcd-watch", "etcd: watch broke, resuming from revision %d: %v", p.rev+1, err)
		}
		backoff.wait(ctx)
	}
}

// watch follows changes from p.rev+1 until the stream breaks. full says the
// history is compacted and only a full read can catch up.
func (p *EtcdProvider) watch(ctx context.Context) (full bool, err error) {
	// A gRPC stream of its own (clientv3 shares one among watches with the
	// same metadata), so that a watch reopened after a stuck one starts a
	// new stream, which the balancer may place on another member.
	p.watches++
	wctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(clientv3.WithRequireLeader(ctx), "sluice-watch", strconv.Itoa(p.watches)))
	defer cancel()
	// Opening a watch can itself hang on a member that stopped answering:
	// it is timed too.
	opened := make(chan clientv3.WatchChan, 1)
	go func() {
		opened <- p.client.Watch(wctx, p.prefix, clientv3.WithPrefix(), clientv3.WithRev(p.rev+1), clientv3.WithProgressNotify())
	}()
	var wch clientv3.WatchChan // nil (blocks) until opened
	tick := time.NewTicker(watchCheck / 4)
	defer tick.Stop()
	heard := time.Now()
	var asked time.Time // an unanswered progress request, if not zero
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case wch = <-opened:
			heard = time.Now()
			continue
		case resp, ok = <-wch:
		case now := <-tick.C:
			switch {
			case wch == nil && now.Sub(heard) > watchCheck+watchStuck:
				return false, fmt.Errorf("opening the watch took more than %v", watchCheck+watchStuck)
			case wch == nil:
			case !asked.IsZero() && now.Sub(asked) > watchStuck:
				return false, fmt.Errorf("the member holding the watch did not answer a progress request in %v", watchStuck)
			case asked.IsZero() && now.Sub(heard) > watchCheck:
				asked = now
				go func() {
					rctx, rcancel := context.WithTimeout(wctx, watchStuck)
					defer rcancel()
					p.client.RequestProgress(rctx)
				}()
			}
			continue
		}
		if !ok {
			return false, ctx.Err()
		}
		heard, asked = time.Now(), time.Time{}
		if resp.CompactRevision != 0 || errors.Is(resp.Err(), rpctypes.ErrCompacted) {
			return true, nil
		}
		if err := resp.Err(); err != nil {
			return false, err
		}
		if len(resp.Events) == 0 {
			continue // progress notification
		}
		p.mu.Lock()
		p.apply(resp.Events)
		p.mu.Unlock()
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

// A watch that has been quiet for watchCheck is asked to prove itself (a
// progress request, answered on the watch stream); one that stays silent
// for watchStuck more is given up and reopened. That is how a member that
// stops answering without closing its connections (frozen, partitioned) is
// left long before gRPC's keepalive, which pings no more often than every
// 10 s, drops its connection.
const (
	watchCheck = time.Second
	watchStuck = 2 * time.Second
)

func (p *EtcdProvider) apply(evs []*clientv3.Event) {
	for _, ev := range evs {
		k := string(ev.Kv.Key)
		if old := p.items[k]; old != nil {
			p.unplace(old)
		}
		if ev.Type == mvccpb.DELETE {
			delete(p.items, k)
		} else {
			e := p.decode(k, ev.Kv.Value, ev.Kv.CreateRevision, ev.Kv.ModRevision)
			p.items[k] = e
			p.place(e)
		}
		p.dirty[k] = true
		if ev.Kv.ModRevision > p.rev {
			p.rev = ev.Kv.ModRevision
		}
	}
}

// replaceAll installs a full read: everything is new to the builder.
func (p *EtcdProvider) replaceAll(items map[string]*etcdEntry, rev int64) {
	order := make([]*etcdEntry, 0, len(items))
	for _, e := range items {
		order = append(order, e)
	}
	slices.SortFunc(order, cmpEntry)
	p.mu.Lock()
	p.items, p.order, p.rev = items, order, rev
	p.dirty, p.all = map[string]bool{}, true
	p.mu.Unlock()
}

func cmpEntry(a, b *etcdEntry) int {
	if c := cmp.Compare(a.cr, b.cr); c != 0 {
		return c
	}
	return strings.Compare(a.key, b.key)
}

// place inserts e into p.order: at the end for a new key (its creation
// revision is the newest), in place for a replaced one.
func (p *EtcdProvider) place(e *etcdEntry) {
	i, _ := slices.BinarySearchFunc(p.order, e, cmpEntry)
	p.order = slices.Insert(p.order, i, e)
}

func (p *EtcdProvider) unplace(e *etcdEntry) {
	if i, ok := slices.BinarySearchFunc(p.order, e, cmpEntry); ok {
		p.order = slices.Delete(p.order, i, i+1)
	}
}

// decode turns one key into an entry. A key that is not a resource sluice
// serves, or whose value is invalid, is logged and left out: the rest of the
// config still applies.
func (p *EtcdProvider) decode(key string, val []byte, cr, mr int64) *etcdEntry {
	e := &etcdEntry{key: key, raw: val, cr: cr, mr: mr}
	kind, id, ok := strings.Cut(strings.TrimPrefix(key, p.prefix), "/")
	if !ok || id == "" || strings.Contains(id, "/") {
		Debugf("etcd: %s is not a resource key; ignored", key)
		return e
	}
	known, why := KindSupport(kind)
	if !known {
		Debugf("etcd: %s: %q is not a resource kind; ignored", key, kind)
		return e
	}
	if why != "" {
		Warnf("etcd: %s left out: %s are not supported yet", key, why)
		return e
	}
	v, err := DecodeItem(kind, key, val)
	if err == nil {
		err = setID(v, id)
	}
	if err != nil {
		Warnf("etcd: %s left out: %v", key, err)
		return e
	}
	e.item = &Item{Kind: kind, ID: id, Key: key, Created: cr, Modified: mr, Value: v}
	return e
}

func setID(v any, id string) error {
	cur := idField(v)
	if *cur == "" {
		*cur = id
	} else if *cur != id {
		field := "id"
		if _, ok := v.(*Consumer); ok {
			field = "username"
		}
		return fmt.Errorf("%s %q in the value differs from the key's %q", field, *cur, id)
	}
	return nil
}

// StoredKV is one key as the provider last saw it in etcd.
type StoredKV struct {
	Value []byte
	// Item is the decoded resource; nil when the key is not one sluice
	// serves or its value was left out.
	Item              *Item
	Created, Modified int64
}

// Lookup returns key as the watch last saw it, and false when it was
// absent then. What was written since may not be seen yet: the Admin API
// uses this to avoid a read per write, and compares revisions when it
// writes.
func (p *EtcdProvider) Lookup(key string) (StoredKV, bool) {
	p.mu.Lock()
	e := p.items[key]
	p.mu.Unlock()
	if e == nil {
		return StoredKV{}, false
	}
	return StoredKV{Value: e.raw, Item: e.item, Created: e.cr, Modified: e.mr}, true
}

func (p *EtcdProvider) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.items)
}

// builder publishes whenever the watch recorded changes, until ctx ends.
func (p *EtcdProvider) builder(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		}
		t0 := time.Now()
		if err := p.publish(); err != nil {
			Errorf("etcd: change rejected, previous config keeps serving: %v", err)
		}
		// Changes that arrived during the build mean a burst: let them
		// gather for as long as the build took, so that building takes at
		// most about half of a core while writes pour in and each build
		// takes more of them. A lone change is built at once.
		if d := time.Since(t0); d > buildPace && len(p.kick) > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
	}
}

// buildPace is the shortest build worth pacing after.
const buildPace = 200 * time.Microsecond

// publish builds the snapshot from what p.items holds now and publishes it.
// Upstreams whose resources did not change since the last snapshot are
// reused as they were compiled (balancer state included), and the compile
// hooks are told what changed (Snapshot.Delta), so a change costs what it
// touches plus one pass over the resources, not a compile of everything.
func (p *EtcdProvider) publish() error {
	p.buildMu.Lock()
	defer p.buildMu.Unlock()
	p.mu.Lock()
	dirty, all := p.dirty, p.all || p.last == nil
	p.dirty, p.all = map[string]bool{}, false
	// A resource a hook refused stays out until it changes, or until
	// something it may depend on does.
	retry := all || anyKindBut(dirty, p.prefix, KindRoutes, KindStreamRoutes)
	var items []*Item
	var cur map[string]*Item // routes alone changed: their items now
	if !all && p.routeOnly(dirty) {
		cur = make(map[string]*Item, len(dirty))
		for k := range dirty {
			if e := p.items[k]; e != nil {
				cur[k] = e.item
			} else {
				cur[k] = nil
			}
		}
	} else {
		items = make([]*Item, 0, len(p.order))
		for _, e := range p.order {
			if e.item == nil || (!retry && p.rejected[e.key] && !dirty[e.key]) {
				continue
			}
			items = append(items, e.item)
		}
	}
	rev := p.rev
	p.mu.Unlock()
	published := false
	defer func() {
		if !published { // the next build must still see these as changed
			p.mu.Lock()
			for k := range dirty {
				p.dirty[k] = true
			}
			p.all = p.all || all
			p.mu.Unlock()
		}
	}()
	if cur != nil {
		var err error
		published, err = p.publishRoutes(cur, dirty, rev)
		return err
	}
	var reuse map[string]*UpstreamSet
	var delta *Delta
	if !all {
		reuse = reusable(p.last, dirty, p.prefix)
		changed := make(map[string]bool, len(dirty)+len(p.rejected))
		for k := range dirty {
			changed[strings.TrimPrefix(k, p.prefix)] = true
		}
		if retry {
			for k := range p.rejected {
				changed[strings.TrimPrefix(k, p.prefix)] = true
			}
		}
		delta = &Delta{Base: p.last, Changed: changed}
	}
	source := "etcd " + strings.TrimSuffix(p.prefix, "/")
	snap, refs, err := buildTolerant(p.cfg, items, source, p.loops, reuse, func(it *Item, err error) {
		if all || dirty[it.Key] {
			Warnf("etcd: %s left out: %v", it.Key, reason(err))
		}
	})
	if err != nil {
		return err
	}
	snap.Delta = delta
	rejected := map[string]bool{}
	if err := p.store.Publish(snap); err != nil {
		// A compile hook (the L7 router) refused it. Leave out the items
		// it refuses on their own, and try once more, compiling it all.
		kept := make([]*Item, 0, len(items))
		// With only routes, stream routes and upstreams changed, what was
		// accepted before and uses nothing that changed needs no check.
		some := delta != nil && !anyKindBut(delta.Changed, "", KindRoutes, KindStreamRoutes, KindUpstreams)
		p.mu.Lock()
		for _, it := range items {
			if some && !delta.Changed[strings.TrimPrefix(it.Key, p.prefix)] && !dependsOnChanged(it, delta.Changed) {
				kept = append(kept, it) // accepted before, and nothing it uses changed
				continue
			}
			if herr := CheckHooks(p.cfg, p.store.Compile, it, p.items, p.prefix, p.loops); herr != nil {
				Warnf("etcd: %s left out: %v", it.Key, herr)
				rejected[it.Key] = true
				continue
			}
			kept = append(kept, it)
		}
		p.mu.Unlock()
		if len(kept) == len(items) {
			return err
		}
		if snap, refs, err = buildTolerant(p.cfg, kept, source, p.loops, reuse, func(*Item, error) {}); err != nil {
			return err
		}
		if err := p.store.Publish(snap); err != nil {
			return err
		}
	}
	if !retry { // still out, unchanged
		for k := range p.rejected {
			if !dirty[k] {
				rejected[k] = true
			}
		}
	}
	published = true
	p.last, p.rejected = snap, rejected
	p.lastRoute = make(map[string]*Item, len(refs[KindRoutes]))
	for _, it := range refs[KindRoutes] {
		p.lastRoute[it.ID] = it
	}
	p.published(rev)
	return nil
}

// published records that the snapshot of revision rev is in force.
func (p *EtcdProvider) published(rev int64) {
	p.live.Store(rev)
	select {
	case p.cacheKick <- struct{}{}:
	default:
	}
}

// anyKindBut says whether keys (full etcd keys) hold a resource of a kind
// other than those given.
func anyKindBut(keys map[string]bool, prefix string, kinds ...string) bool {
	for k := range keys {
		kind, _, _ := strings.Cut(strings.TrimPrefix(k, prefix), "/")
		if !slices.Contains(kinds, kind) {
			return true
		}
	}
	return false
}

// dependsOnChanged says whether it refers to a resource in changed.
func dependsOnChanged(it *Item, changed map[string]bool) bool {
	for _, r := range References(it.Value) {
		if changed[r.Kind+"/"+r.ID] {
			return true
		}
	}
	return false
}

// reusable lists what last compiled that can be used again: the upstreams,
// and the routes' and services' inline upstreams, of resources not in dirty.
func reusable(last *Snapshot, dirty map[string]bool, prefix string) map[string]*UpstreamSet {
	if last == nil {
		return nil
	}
	m := make(map[string]*UpstreamSet, len(last.Upstreams)+len(last.RouteUpstreams))
	for id, us := range last.Upstreams {
		if k := KindUpstreams + "/" + id; !dirty[prefix+k] {
			m[k] = us
		}
	}
	for id, us := range last.RouteUpstreams {
		if k := KindRoutes + "/" + id; !dirty[prefix+k] {
			m[k] = us
		}
	}
	for id, us := range last.ServiceUpstreams {
		if k := KindServices + "/" + id; !dirty[prefix+k] {
			m[k] = us
		}
	}
	return m
}

func reason(err error) string {
	var ce *ConfigError
	if errors.As(err, &ce) {
		if _, field, ok := strings.Cut(ce.Key, "]."); ok {
			return field + ": " + ce.Reason
		}
		return ce.Reason
	}
	return err.Error()
}

// cacheFile is the local copy of the last full config (external etcd).
type cacheFile struct {
	Prefix   string     `json:"prefix"`
	Revision int64      `json:"revision"`
	Saved    time.Time  `json:"saved"`
	KVs      []cachedKV `json:"kvs"`
}

type cachedKV struct {
	Key      string          `json:"key"`
	Value    json.RawMessage `json:"value"`
	Created  int64           `json:"create_revision"`
	Modified int64           `json:"mod_revision"`
}

// cacheWriter saves the config after changes, at most once a second.
func (p *EtcdProvider) cacheWriter(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.cacheKick:
		}
		if p.FromCache() {
			continue // never overwrite the cache with itself
		}
		if err := p.saveCache(); err != nil {
			WarnOnce("etcd-cache", "etcd: saving the config cache %s: %v", p.cache, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (p *EtcdProvider) saveCache() error {
	p.mu.Lock()
	cf := cacheFile{Prefix: p.prefix, Revision: p.rev, Saved: time.Now().UTC(), KVs: make([]cachedKV, 0, len(p.items))}
	for k, e := range p.items {
		v := json.RawMessage(e.raw)
		if !json.Valid(v) {
			continue
		}
		cf.KVs = append(cf.KVs, cachedKV{Key: k, Value: v, Created: e.cr, Modified: e.mr})
	}
	p.mu.Unlock()
	data, err := json.Marshal(&cf)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p.cache), 0o700); err != nil {
		return err
	}
	tmp := p.cache + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p.cache)
}

// LoadCache publishes the config saved by an earlier run, for a node that
// starts while etcd is unreachable. It returns the revision and when it was
// saved; Run later replaces it with a full read from etcd.
func (p *EtcdProvider) LoadCache() (rev int64, saved time.Time, err error) {
	data, err := os.ReadFile(p.cache)
	if err != nil {
		return 0, time.Time{}, err
	}
	var cf cacheFile
	if err := json.Unmarshal(data, &cf); err != nil {
		return 0, time.Time{}, fmt.Errorf("%s: %v", p.cache, err)
	}
	if cf.Prefix != p.prefix {
		return 0, time.Time{}, fmt.Errorf("%s holds prefix %q, not %q", p.cache, cf.Prefix, p.prefix)
	}
	items := make(map[string]*etcdEntry, len(cf.KVs))
	for _, kv := range cf.KVs {
		items[kv.Key] = p.decode(kv.Key, kv.Value, kv.Created, kv.Modified)
	}
	p.replaceAll(items, cf.Revision)
	p.fromCache.Store(true)
	if err := p.publish(); err != nil {
		return 0, time.Time{}, err
	}
	p.ready.Store(true)
	return cf.Revision, cf.Saved, nil
}

type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 50 * time.Millisecond} }

func (b *backoff) wait(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(b.d):
	}
	if b.d < 2*time.Second {
		b.d *= 2
	}
}

// CheckHooks builds one item with what it refers to (looked up in entries
// by key, transitively: a route's service's upstream) and runs the compile
// hooks on it alone: what a hook refuses here, it refuses in any snapshot.
func CheckHooks(cfg *Config, hooks []func(*Snapshot) error, it *Item, entries map[string]*etcdEntry, prefix string, loops int) error {
	if len(hooks) == 0 {
		return nil
	}
	items := []*Item{it}
	seen := map[string]bool{}
	var add func(v any)
	add = func(v any) {
		for _, r := range References(v) {
			k := prefix + r.Kind + "/" + r.ID
			if seen[k] {
				continue
			}
			seen[k] = true
			if e := entries[k]; e != nil && e.item != nil {
				items = append(items, e.item)
				add(e.item.Value)
			}
		}
	}
	add(it.Value)
	return RunHooks(cfg, hooks, items, loops)
}

// RunHooks builds items into a snapshot and runs hooks on it without
// publishing: the Admin API's write-time check of what the data plane's
// compile hooks (the L7 router) would say.
func RunHooks(cfg *Config, hooks []func(*Snapshot) error, items []*Item, loops int) error {
	res, _ := Assemble(items)
	snap, err := BuildSnapshot(cfg, res, "check", loops)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		if err := h(snap); err != nil {
			return err
		}
	}
	return nil
}
