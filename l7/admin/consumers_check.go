package admin

import (
	"context"
	"strings"

	"github.com/sluice-gateway/sluice/core"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// otherConsumers adds the stored consumers but id to items, so that a
// consumer's write compiles with them: a credential key another consumer
// holds (key-auth's key, basic-auth's username, jwt-auth's key) is refused
// here, as APISIX's Admin API refuses it, instead of the data plane
// refusing every later change while both are stored. Like APISIX's check
// it is best effort: two writes racing with one key can both pass it.
func (s *Server) otherConsumers(ctx context.Context, id string, items map[string]*core.Item) error {
	prefix := s.key(core.KindConsumers, "")
	resp, err := s.o.Client.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return storeError(err)
	}
	for _, kv := range resp.Kvs {
		name := strings.TrimPrefix(string(kv.Key), prefix)
		if name == id || name == "" || items[core.KindConsumers+"/"+name] != nil {
			continue
		}
		v, err := core.DecodeItem(core.KindConsumers, string(kv.Key), kv.Value)
		if err != nil {
			continue // another consumer's problem, not this write's
		}
		items[core.KindConsumers+"/"+name] = &core.Item{Kind: core.KindConsumers, ID: name, Key: string(kv.Key), Value: v}
	}
	return nil
}
