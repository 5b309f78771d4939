package core

import (
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// BenchmarkEtcdRouteChange is the config plane's own cost of one route
// change, as the watch hands it over: decode, build the next snapshot
// from the last one, publish it (no compile hooks: the L7 router's part is
// l7's BenchmarkCompileRouteChange). No etcd: what etcd's commit costs is
// etcd's. n routes are in the table; "inline" gives each its own upstream,
// "upstream_id" has them share one.
func BenchmarkEtcdRouteChange(b *testing.B) {
	for _, inline := range []bool{false, true} {
		for _, n := range []int{100, 10000} {
			name := fmt.Sprintf("upstream_id/routes=%d", n)
			if inline {
				name = fmt.Sprintf("inline/routes=%d", n)
			}
			b.Run(name, func(b *testing.B) {
				p, rev := benchProvider(b, n, inline)
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					rev++
					k := fmt.Sprintf("/sluice/routes/r%d", i%n)
					v := fmt.Sprintf(`{"uri":"/r/%d/%d","upstream_id":"u"}`, i%n, i)
					if inline {
						v = fmt.Sprintf(`{"uri":"/r/%d/%d","upstream":{"nodes":{"127.0.0.1:%d":1}}}`, i%n, i, 1000+i%n)
					}
					p.mu.Lock()
					p.apply([]*clientv3.Event{{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{Key: []byte(k), Value: []byte(v),
						CreateRevision: int64(2 + i%n), ModRevision: rev}}})
					p.mu.Unlock()
					if err := p.publish(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// benchProvider is an etcd provider holding upstream u and n routes, as a
// full read would have left it (no etcd client: the benchmark feeds it
// events by hand).
func benchProvider(b *testing.B, n int, inline bool) (*EtcdProvider, int64) {
	b.Helper()
	store := &Store{DNS: NewResolver(etcdTestConfig())}
	b.Cleanup(store.DNS.Close)
	p := NewEtcdProvider(etcdTestConfig(), nil, store, 1, "")
	items := map[string]*etcdEntry{}
	items["/sluice/upstreams/u"] = p.decode("/sluice/upstreams/u", []byte(`{"nodes":{"127.0.0.1:7000":1}}`), 1, 1)
	for i := range n {
		k := fmt.Sprintf("/sluice/routes/r%d", i)
		v := fmt.Sprintf(`{"uri":"/r/%d","upstream_id":"u"}`, i)
		if inline {
			v = fmt.Sprintf(`{"uri":"/r/%d","upstream":{"nodes":{"127.0.0.1:%d":1}}}`, i, 1000+i)
		}
		items[k] = p.decode(k, []byte(v), int64(2+i), int64(2+i))
	}
	rev := int64(n + 2)
	p.replaceAll(items, rev)
	if err := p.publish(); err != nil {
		b.Fatal(err)
	}
	if got := len(store.Load().Routes); got != n {
		b.Fatalf("%d routes in the snapshot, want %d", got, n)
	}
	return p, rev
}
