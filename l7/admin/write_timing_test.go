package admin

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkAdminPut is one route PUT through the Admin API (HTTP, schema,
// reference check, compile check, etcd transaction) from 16 concurrent
// clients, against an embedded etcd, without and with the etcd provider's
// view of the store.
func BenchmarkAdminPut(b *testing.B) {
	for _, view := range []bool{false, true} {
		b.Run(fmt.Sprintf("view=%v", view), func(b *testing.B) {
			cfg := testConfig(b)
			cli := startEtcd(b, cfg)
			o := Options{Config: cfg, Client: cli, Keys: testKeys}
			if view {
				o.View = runProvider(b, cfg, cli)
			}
			url := newAPI(b, o).url
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			put := func(path, body string) {
				req, _ := http.NewRequest("PUT", url+path, strings.NewReader(body))
				req.Header.Set("X-API-KEY", testKeys[0].Key)
				resp, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					b.Errorf("%s: %d", path, resp.StatusCode)
				}
			}
			put("/apisix/admin/upstreams/u", `{"nodes":{"127.0.0.1:7001":1}}`)
			var n atomic.Int64
			b.SetParallelism(8) // × GOMAXPROCS clients
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					put(fmt.Sprintf("/apisix/admin/routes/r%d", i), fmt.Sprintf(`{"uri":"/r/%d","upstream_id":"u"}`, i))
				}
			})
		})
	}
}
