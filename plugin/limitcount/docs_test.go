package limitcount_test

import (
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/limitcount"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// The example configs of APISIX's limit-count page (docs/en/latest/plugins/
// limit-count.md, 3.18): the local ones are accepted and behave as the page
// says; the Redis ones are refused, naming why.
func TestAPISIXDocExamples(t *testing.T) {
	accepted := []struct {
		name, conf string
		limit      int
	}{
		{"Apply Rate Limiting by Remote Address",
			`{"count":1,"time_window":30,"rejected_code":429,"key_type":"var","key":"remote_addr"}`, 1},
		{"Apply Rate Limiting by Remote Address (policy spelled out)",
			`{"count":1,"time_window":30,"rejected_code":429,"key_type":"var","key":"remote_addr","policy":"local"}`, 1},
		{"Apply Rate Limiting by Remote Address and Consumer Name",
			`{"count":1,"time_window":30,"rejected_code":429,"key_type":"var_combination","key":"$remote_addr $consumer_name"}`, 1},
		{"Share Quota among Routes (service)",
			`{"count":1,"time_window":30,"rejected_code":429,"group":"srv1"}`, 1},
		{"Rate Limit with Anonymous Consumer (john)",
			`{"count":3,"time_window":30,"rejected_code":429}`, 3},
		{"Rate Limit with Anonymous Consumer (anonymous)",
			`{"count":1,"time_window":30,"rejected_code":429}`, 1},
	}
	for _, ex := range accepted {
		t.Run(ex.name, func(t *testing.T) {
			ch := build(t, `{"limit-count":`+ex.conf+`}`)
			steps := []step{{want: "200 " + hdrs(ex.limit, ex.limit-1, 30)}}
			for i := 1; i < ex.limit; i++ {
				steps = append(steps, step{want: "200 " + hdrs(ex.limit, ex.limit-1-i, 30)})
			}
			steps = append(steps, step{want: "429 " + hdrs(ex.limit, 0, 30)})
			check(t, ch, steps)
		})
	}
	refused := []struct{ name, conf, want string }{
		{"Share Quota Among APISIX Nodes with a Redis Server",
			`{"count":1,"time_window":30,"rejected_code":429,"key":"remote_addr","policy":"redis","redis_host":"192.168.xxx.xxx","redis_port":6379,"redis_password":"p@ssw0rd","redis_database":1}`,
			`policy "redis" is not supported yet`},
		{"Share Quota Among APISIX Nodes with a Redis Cluster",
			`{"count":1,"time_window":30,"rejected_code":429,"key":"remote_addr","policy":"redis-cluster","redis_cluster_nodes":["192.168.xxx.xxx:6379","192.168.xxx.xxx:16379"],"redis_password":"p@ssw0rd","redis_cluster_name":"redis-cluster-1","redis_cluster_ssl":true}`,
			`policy "redis-cluster" is not supported yet`},
		{"Share Quota Among APISIX Nodes with Redis Sentinel",
			`{"count":1,"time_window":30,"rejected_code":429,"key":"remote_addr","policy":"redis-sentinel","redis_sentinels":[{"host":"192.168.xxx.xxx","port":26379},{"host":"192.168.xxx.xxx","port":26380},{"host":"192.168.xxx.xxx","port":26381}],"redis_master_name":"mymaster","redis_password":"p@ssw0rd","sentinel_password":"s3ntinelp@ss","redis_database":1}`,
			`policy "redis-sentinel" is not supported yet`},
		{"Reduce Redis Round Trips with Delayed Synchronization",
			`{"count":1000,"time_window":60,"rejected_code":429,"key":"remote_addr","policy":"redis","redis_host":"192.168.xxx.xxx","redis_port":6379,"redis_password":"p@ssw0rd","redis_database":1,"sync_interval":1}`,
			`policy "redis" is not supported yet`},
	}
	// Apply Sliding Window Rate Limiting: 10 in 60 s, the 11th refused.
	ch := build(t, `{"limit-count":{"count":10,"time_window":60,"rejected_code":429,"key":"remote_addr","window_type":"sliding"}}`)
	for i := range 11 {
		want := "200"
		if i == 10 {
			want = "429"
		}
		if got := hit(ch, get, "10.0.0.1:1", at(float64(i))); !strings.HasPrefix(got, want+" ") {
			t.Errorf("sliding, request %d: %s, want %s", i+1, got, want)
		}
	}
	// Customize Rate Limiting Headers: the metadata's names.
	reg := plugintest.Registry(t, limitcount.Def)
	ch = plugintest.MustBuild(t, reg, plugintest.Config{
		Route:    `{"limit-count":{"count":1,"time_window":30,"rejected_code":429,"key_type":"var","key":"remote_addr"}}`,
		Metadata: map[string]string{"limit-count": `{"limit_header":"X-Custom-RateLimit-Limit","remaining_header":"X-Custom-RateLimit-Remaining","reset_header":"X-Custom-RateLimit-Reset"}`},
	})
	if got := hit(ch, get, "10.0.0.1:1", at(2)); got != "200 X-Custom-RateLimit-Limit: 1, X-Custom-RateLimit-Remaining: 0, X-Custom-RateLimit-Reset: 28" {
		t.Errorf("custom headers: %s", got)
	}
	for _, ex := range refused {
		_, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"limit-count":` + ex.conf + `}`})
		if err == nil || !strings.Contains(err.Error(), ex.want) {
			t.Errorf("%s: got %v, want %q", ex.name, err, ex.want)
		}
	}
}

// The anonymous-consumer example puts limit-count on consumers: john gets
// 3 per window, anonymous 1, each counting on its own.
func TestConsumerLimits(t *testing.T) {
	reg := plugintest.Registry(t, limitcount.Def, fakeAuth)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{
		Route: `{"fake-auth":{}}`,
		Consumers: map[string]string{
			"john":      `{"fake-auth":{"key":"john-key"},"limit-count":{"count":3,"time_window":30,"rejected_code":429,"show_limit_quota_header":false}}`,
			"anonymous": `{"fake-auth":{"key":""},"limit-count":{"count":1,"time_window":30,"rejected_code":429,"show_limit_quota_header":false}}`,
		},
	})
	count := func(raw string) (ok, rejected int) {
		for range 5 {
			if got := hit(ch, raw, "10.0.0.1:1", at(1)); got == "200" {
				ok++
			} else if got == "429" {
				rejected++
			} else {
				t.Fatalf("got %s", got)
			}
		}
		return
	}
	if ok, rej := count("GET /anything HTTP/1.1\r\nHost: a\r\napikey: john-key\r\n\r\n"); ok != 3 || rej != 2 {
		t.Errorf("john: 200: %d, 429: %d; want 3, 2", ok, rej)
	}
	if ok, rej := count("GET /anything HTTP/1.1\r\nHost: a\r\n\r\n"); ok != 1 || rej != 4 {
		t.Errorf("anonymous: 200: %d, 429: %d; want 1, 4", ok, rej)
	}
}

// fakeAuth identifies the consumer whose key equals the apikey header
// ("" for none), as key-auth with an anonymous consumer would.
var fakeAuth = plugin.Def{
	Name: "fake-auth", Priority: 2500,
	ConsumerSchema: `{"type":"object","properties":{"key":{"type":"string"}},"required":["key"]}`,
	New: func(b *plugin.Build, _ []byte) (any, error) {
		m := map[string]*plugin.Consumer{}
		for _, c := range b.Consumers("fake-auth") {
			var cred struct{ Key string }
			if err := plugin.Decode(c.Credential("fake-auth"), &cred); err != nil {
				return nil, err
			}
			m[cred.Key] = c
		}
		return auth(m), nil
	},
}

type auth map[string]*plugin.Consumer

func (a auth) Rewrite(c *plugin.Ctx) plugin.Result {
	k, _ := c.Header("apikey")
	c.Consumer = a[string(k)]
	return plugin.Continue
}
