package l7

import (
	"context"
	"fmt"
	"testing"
	"time"

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
