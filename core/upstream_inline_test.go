package core

import (
	"strings"
	"testing"
)

func TestCompileUpstreamInline(t *testing.T) {
	v, err := DecodeItem(KindUpstreams, "x", []byte(`{"type":"chash","key":"remote_addr","nodes":{"127.0.0.1:80":1,"127.0.0.2:80":2}}`))
	if err != nil {
		t.Fatal(err)
	}
	us, err := CompileUpstream(nil, v.(*Upstream), "routes/1: plugins.p.upstream", 0)
	if err != nil || len(us.Nodes().Addrs) != 2 || us.Nodes().Bal == nil || us.Nodes().Tries != 2 {
		t.Fatalf("%+v %v", us, err)
	}
	v, _ = DecodeItem(KindUpstreams, "x", []byte(`{"nodes":{"backend.example:80":1}}`))
	_, err = CompileUpstream(nil, v.(*Upstream), "p.upstream", 1)
	if err == nil || !strings.Contains(err.Error(), "p.upstream.nodes: host names (backend.example) are resolved only for upstream resources") {
		t.Errorf("host name: %v", err)
	}
	v, _ = DecodeItem(KindUpstreams, "x", []byte(`{"type":"fancy","nodes":{"127.0.0.1:80":1}}`))
	_, err = CompileUpstream(nil, v.(*Upstream), "routes/1: plugins.p.upstream", 1)
	if err == nil || err.Error() != `routes/1: plugins.p.upstream.type: want roundrobin, chash, ewma or least_conn, got "fancy"` {
		t.Errorf("error %v", err)
	}
	if _, err := DecodeItem(KindUpstreams, "x", []byte(`{"nodes":{"127.0.0.1:80":1},"nope":1}`)); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown field: %v", err)
	}
}
