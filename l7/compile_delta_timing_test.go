package l7

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/core"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// BenchmarkEtcdChange is one route written to an embedded etcd until the
// node's snapshot (router included) reflects it, with n other routes in
// the table: what a change costs on the watch → build → publish path, on
// top of etcd's own commit.
func BenchmarkEtcdChange(b *testing.B) {
	for _, n := range []int{0, 1000, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			nd := startEtcdNode(b, Compile)
			nd.txn(b, map[string]string{"upstreams/u": `{"nodes":{"127.0.0.1:7000":1}}`})
			ctx := context.Background()
			for i := 0; i < n; i += 100 {
				var ops []clientv3.Op
				for j := i; j < min(i+100, n); j++ {
					ops = append(ops, clientv3.OpPut(fmt.Sprintf("/sluice/routes/r%d", j), fmt.Sprintf(`{"uri":"/r/%d","upstream_id":"u"}`, j)))
				}
				if _, err := nd.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
					b.Fatal(err)
				}
			}
			nd.txn(b, map[string]string{"routes/p": `{"uri":"/p","upstream_id":"u"}`})
			b.ResetTimer()
			for i := range b.N {
				resp, err := nd.cli.Put(ctx, "/sluice/routes/p", fmt.Sprintf(`{"uri":"/p/%d","upstream_id":"u"}`, i))
				if err != nil {
					b.Fatal(err)
				}
				for nd.prov.Revision() < resp.Header.Revision {
					time.Sleep(20 * time.Microsecond)
				}
			}
		})
	}
}

// BenchmarkCompileRouteChange is the L7 compile hook's share of one route
// change (compileDelta: the router updated for the changed route), with n
// routes in the table, told where the route is as the etcd provider tells
// it; core's share is core's BenchmarkEtcdRouteChange.
func BenchmarkCompileRouteChange(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			cfg := &core.Config{}
			res := &core.Resources{Upstreams: []core.Upstream{{ID: "u", Nodes: core.Nodes{{Host: "127.0.0.1", Port: 7000, Weight: 1}}}}}
			for i := range n {
				res.Routes = append(res.Routes, core.Route{ID: fmt.Sprintf("r%d", i), URI: fmt.Sprintf("/r/%d", i), UpstreamID: "u"})
			}
			snaps := make([]*core.Snapshot, 2)
			for j := range snaps {
				s, err := core.BuildSnapshot(cfg, res, "bench", 1)
				if err != nil {
					b.Fatal(err)
				}
				snaps[j] = s
			}
			if err := Compile(snaps[0]); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				// Two snapshots take turns: the route changed is r0, whose
				// uri is the same in both, so each is a valid successor of
				// the other and the benchmark builds no snapshot.
				base, next := snaps[i%2], snaps[(i+1)%2]
				next.HTTP, next.Delta = nil, &core.Delta{Base: base, Changed: map[string]bool{"routes/r0": true}, RoutesOnly: true, At: []int{0}}
				if err := Compile(next); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
