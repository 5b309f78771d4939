package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
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

	mu    sync.Mutex // guards items and rev
	items map[string]*etcdEntry
	rev   int64
	// buildMu serializes builds: each publishes a state newer than the last.
	buildMu sync.Mutex
	// kick wakes the builder. The watch only records changes; the builder
	// takes all that arrived while it was busy, so a burst of writes costs a
	// few rebuilds, not one per write, and a lone change waits for none.
	kick chan struct{}

	live      atomic.Int64 // revision of the published snapshot
	ready     atomic.Bool
	fromCache atomic.Bool
	cacheKick chan struct{}
}

type etcdEntry struct {
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
	p.mu.Lock()
	p.items = items
	p.rev = resp.Header.Revision
	p.mu.Unlock()
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
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := p.client.Watch(wctx, p.prefix, clientv3.WithPrefix(), clientv3.WithRev(p.rev+1), clientv3.WithProgressNotify())
	for resp := range wch {
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
	return false, ctx.Err()
}

func (p *EtcdProvider) apply(evs []*clientv3.Event) {
	for _, ev := range evs {
		k := string(ev.Kv.Key)
		if ev.Type == mvccpb.DELETE {
			delete(p.items, k)
		} else {
			p.items[k] = p.decode(k, ev.Kv.Value, ev.Kv.CreateRevision, ev.Kv.ModRevision)
		}
		if ev.Kv.ModRevision > p.rev {
			p.rev = ev.Kv.ModRevision
		}
	}
}

// decode turns one key into an entry. A key that is not a resource sluice
// serves, or whose value is invalid, is logged and left out: the rest of the
// config still applies.
func (p *EtcdProvider) decode(key string, val []byte, cr, mr int64) *etcdEntry {
	e := &etcdEntry{raw: val, cr: cr, mr: mr}
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
		if err := p.publish(); err != nil {
			Errorf("etcd: change rejected, previous config keeps serving: %v", err)
		}
	}
}

// publish builds the snapshot from what p.items holds now and publishes it.
func (p *EtcdProvider) publish() error {
	p.buildMu.Lock()
	defer p.buildMu.Unlock()
	p.mu.Lock()
	items := make([]*Item, 0, len(p.items))
	for _, e := range p.items {
		if e.item != nil {
			items = append(items, e.item)
		}
	}
	rev := p.rev
	p.mu.Unlock()
	source := "etcd " + strings.TrimSuffix(p.prefix, "/")
	snap, err := BuildTolerant(p.cfg, items, source, p.loops, func(it *Item, err error) {
		Warnf("etcd: %s left out: %v", it.Key, reason(err))
	})
	if err != nil {
		return err
	}
	if err := p.store.Publish(snap); err != nil {
		// A compile hook (the L7 router) refused it. Leave out the items
		// it refuses on their own, and try once more.
		kept := make([]*Item, 0, len(items))
		p.mu.Lock()
		for _, it := range items {
			if herr := CheckHooks(p.cfg, p.store.Compile, it, p.items, p.prefix, p.loops); herr != nil {
				Warnf("etcd: %s left out: %v", it.Key, herr)
				continue
			}
			kept = append(kept, it)
		}
		p.mu.Unlock()
		if len(kept) == len(items) {
			return err
		}
		if snap, err = BuildTolerant(p.cfg, kept, source, p.loops, func(*Item, error) {}); err != nil {
			return err
		}
		if err := p.store.Publish(snap); err != nil {
			return err
		}
	}
	p.live.Store(rev)
	select {
	case p.cacheKick <- struct{}{}:
	default:
	}
	return nil
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
	p.mu.Lock()
	p.items = items
	p.rev = cf.Revision
	p.mu.Unlock()
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
