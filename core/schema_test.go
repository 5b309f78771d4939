package core

import (
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestValidatorPointersAndUnsupported(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		kind, body, want string
	}{
		{"stream_routes", `{"server_port":9100,"upstream_id":"u"}`, ""},
		{"upstreams", `{"nodes":[{"host":"127.0.0.1","port":80}],"timeout":{"connect":1}}`, ""},
		{"routes", `{"uri":"/a","upstream":{"nodes":{"127.0.0.1:80":1}}}`, ""},
		{"stream_routes", `{"server_port":70000,"upstream_id":"u"}`, "/server_port: maximum: got 70,000, want 65,535"},
		{"stream_routes", `{"upstream_id":"u","colour":"red"}`, "additional properties 'colour' not allowed"},
		{"stream_routes", `{"upstream":{"nodes":{"127.0.0.1:80":"heavy"}}}`, "/upstream/nodes/127.0.0.1:80: got string, want integer"},
		{"upstreams", `{"type":"chash","hash_on":"cookie","key":"sid","nodes":[{"host":"a","port":1,"priority":2}]}`, ""},
		{"upstreams", `{"nodes":{"a:1":1},"keepalive_pool":{"size":4,"idle_timeout":0,"requests":100}}`, ""},
		{"upstreams", `{"nodes":{"a:1":1},"keepalive_pool":{"size":0}}`, "/keepalive_pool/size: minimum"},
		{"upstreams", `{"nodes":{"a:1":1},"keepalive_pool":{"idle":3}}`, "additional properties 'idle' not allowed"},
		{"upstreams", `{"nodes":{"a:1":1},"checks":{"active":{}}}`, ""},
		{"upstreams", `{"nodes":{"a:1":1},"checks":{"active":{"type":"tcp","healthy":{"interval":0.2}},"passive":{"unhealthy":{"http_statuses":[500]}}}}`, ""},
		{"upstreams", `{"nodes":{"a:1":1},"checks":{"passive":{}}}`, "missing property 'active'"},
		{"upstreams", `{"nodes":{"a:1":1},"checks":{"active":{"healthy":{"successes":0}}}}`, "/checks/active/healthy/successes: minimum"},
		{"upstreams", `{"nodes":{"a:1":1},"checks":{"active":{"unhealthy":{"http_statuses":[404,404]}}}}`, "/checks/active/unhealthy/http_statuses"},
		{"upstreams", `{"nodes":{"a:1":1},"checks":{"active":{"colour":"red"}}}`, "additional properties 'colour' not allowed"},
		{"routes", `{"uri":"/a","plugins":{"key-auth":{}},"upstream_id":"u"}`, ""},
		{"routes", `{"uri":"/a","plugins":{"key-auth":true},"upstream_id":"u"}`, "/plugins/key-auth: got boolean, want object"},
		{"routes", `{"uri":"/a","filter_func":"function() end","upstream_id":"u"}`, "/filter_func: not supported yet: filter_func (Lua)"},
		{"routes", `{"upstream_id":"u"}`, "missing property 'uri'"},
		{"routes", `{"uri":"a","upstream_id":"u","methods":["FETCH"]}`, "/methods/0: value must be one of"},
		{"ssls", `{}`, "ssls are not supported yet"},
		{"services", `{"upstream_id":"u","hosts":["a.example"],"plugins":{"limit-count":{"count":1}}}`, ""},
		{"services", `{"upstream_id":"u","upstream":{"nodes":{"a:1":1}},"enable_websocket":"yes"}`, "/enable_websocket: got string, want boolean"},
		{"services", `{"script":"local _M = {} return _M"}`, "/script: not supported yet: script (Lua)"},
		{"consumers", `{"username":"jack","group_id":"g","plugins":{"key-auth":{"key":"k"}}}`, ""},
		{"consumers", `{"plugins":{}}`, "missing property 'username'"},
		{"consumers", `{"username":"ja.ck"}`, "/username: 'ja.ck' does not match pattern"},
		{"consumer_groups", `{"plugins":{"limit-count":{}}}`, ""},
		{"consumer_groups", `{"desc":"x"}`, "missing property 'plugins'"},
		{"global_rules", `{"plugins":{}}`, "/plugins: minProperties"},
		{"global_rules", `{"plugins":{"prometheus":{}}}`, ""},
		{"plugin_configs", `{"name":"pc","plugins":{"cors":{}}}`, ""},
		{"plugin_configs", `{"name":"pc"}`, "missing property 'plugins'"},
		{"plugin_metadata", `{"id":"http-logger","log_format":{"host":"$host"}}`, ""},
		{"upstreams", `{"nodes":{}, "timeout":{"connect":-1}}`, "/timeout/connect: exclusiveMinimum"},
	}
	for _, tc := range cases {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		err = v.Validate(tc.kind, doc)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %s: %v", tc.kind, tc.body, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %s: got %v, want %q", tc.kind, tc.body, err, tc.want)
		}
	}
}
