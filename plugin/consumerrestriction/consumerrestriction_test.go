package consumerrestriction_test

import (
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/plugin/consumerrestriction"
	"github.com/sluice-gateway/sluice/plugin/keyauth"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// Consumers identified by key-auth: jack (group vip), jane, rose.
var base = plugintest.Config{
	Consumers: map[string]string{
		"jack": `{"key-auth":{"key":"jack-key"}}`,
		"jane": `{"key-auth":{"key":"jane-key"}}`,
		"rose": `{"key-auth":{"key":"rose-key"}}`,
	},
	Groups:  map[string]string{"vip": `{}`},
	GroupOf: map[string]string{"jack": "vip"},
}

func req(method, key string) string {
	r := method + " /a HTTP/1.1\r\nHost: example.com\r\n"
	if key != "" {
		r += "apikey: " + key + "\r\n"
	}
	return r + "\r\n"
}

// check is one request: its method and key, the route's and service's
// ids, and the answer (status 0: let on).
type check struct {
	name      string
	plugins   string // the route's, with key-auth added
	method    string
	key       string
	routeID   string
	serviceID string
	status    int
	body      string
}

func run(t *testing.T, cfg plugintest.Config, tests []check) {
	t.Helper()
	reg := plugintest.Registry(t, keyauth.Def, consumerrestriction.Def)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cfg
			if tt.plugins != "" {
				cfg.Route = `{"key-auth":{},` + tt.plugins[1:]
			}
			ch := plugintest.MustBuild(t, reg, cfg)
			method := tt.method
			if method == "" {
				method = "GET"
			}
			r := plugintest.NewRequest(req(method, tt.key), "127.0.0.1:5000")
			c := r.Reset(ch)
			if tt.routeID != "" {
				c.RouteID = tt.routeID
			}
			c.ServiceID = tt.serviceID
			res := c.Request()
			if res.Status != tt.status || (tt.body != "" && string(res.Body) != tt.body) {
				t.Fatalf("got %d %s, want %d %s", res.Status, res.Body, tt.status, tt.body)
			}
		})
	}
}

const (
	forbidden    = `{"message":"The consumer_name is forbidden."}`
	noConsumer   = `{"message":"The request is rejected, please check the consumer_name for this request"}`
	noService    = `{"message":"The request is rejected, please check the service_id for this request"}`
	groupDenied  = `{"message":"The consumer_group_id is forbidden."}`
	routeDenied  = `{"message":"The route_id is forbidden."}`
	serviceDenid = `{"message":"The service_id is forbidden."}`
)

func TestConsumerRestriction(t *testing.T) {
	run(t, base, []check{
		{name: "whitelisted", plugins: `{"consumer-restriction":{"whitelist":["jack","jane"]}}`, key: "jane-key"},
		{name: "not whitelisted", plugins: `{"consumer-restriction":{"whitelist":["jack","jane"]}}`, key: "rose-key", status: 403, body: forbidden},
		{name: "blacklisted", plugins: `{"consumer-restriction":{"blacklist":["jack"]}}`, key: "jack-key", status: 403, body: forbidden},
		{name: "not blacklisted", plugins: `{"consumer-restriction":{"blacklist":["jack"]}}`, key: "rose-key"},
		{name: "blacklist before whitelist", plugins: `{"consumer-restriction":{"blacklist":["jack"],"whitelist":["jack"]}}`, key: "jack-key", status: 403},
		{name: "names are case-sensitive", plugins: `{"consumer-restriction":{"whitelist":["Jack"]}}`, key: "jack-key", status: 403},
		{name: "rejected code and message", plugins: `{"consumer-restriction":{"blacklist":["jack"],"rejected_code":451,"rejected_msg":"go away"}}`,
			key: "jack-key", status: 451, body: `{"message":"go away"}`},
		{name: "no consumer", plugins: `{"consumer-restriction":{"whitelist":["jack"]}}`, key: "", status: 401, body: `{"message":"Missing API key in request"}`},

		{name: "methods: allowed", plugins: `{"consumer-restriction":{"allowed_by_methods":[{"user":"jack","methods":["GET","POST"]}]}}`, method: "POST", key: "jack-key"},
		{name: "methods: not allowed", plugins: `{"consumer-restriction":{"allowed_by_methods":[{"user":"jack","methods":["GET"]}]}}`, method: "DELETE", key: "jack-key", status: 403, body: forbidden},
		{name: "methods: unlisted consumer may use any", plugins: `{"consumer-restriction":{"allowed_by_methods":[{"user":"jack","methods":["GET"]}]}}`, method: "DELETE", key: "jane-key"},
		{name: "methods: the first entry for a user decides", plugins: `{"consumer-restriction":{"allowed_by_methods":[{"user":"jack","methods":["GET"]},{"user":"jack","methods":["PUT"]}]}}`,
			method: "PUT", key: "jack-key", status: 403},
		{name: "methods: an entry without user names no one", plugins: `{"consumer-restriction":{"allowed_by_methods":[{"methods":["GET"]}]}}`, method: "PUT", key: "jack-key"},
		{name: "methods: whitelisted skips them", plugins: `{"consumer-restriction":{"whitelist":["jack"],"allowed_by_methods":[{"user":"jack","methods":["GET"]}]}}`, method: "PUT", key: "jack-key"},
		{name: "methods: not whitelisted is rejected anyway", plugins: `{"consumer-restriction":{"whitelist":["jane"],"allowed_by_methods":[{"user":"jack","methods":["PUT"]}]}}`, method: "PUT", key: "jack-key", status: 403},

		{name: "group whitelisted", plugins: `{"consumer-restriction":{"type":"consumer_group_id","whitelist":["vip"]}}`, key: "jack-key"},
		{name: "group blacklisted", plugins: `{"consumer-restriction":{"type":"consumer_group_id","blacklist":["vip"]}}`, key: "jack-key", status: 403, body: groupDenied},
		{name: "no group", plugins: `{"consumer-restriction":{"type":"consumer_group_id","whitelist":["vip"]}}`, key: "jane-key", status: 401,
			body: `{"message":"The request is rejected, please check the consumer_group_id for this request"}`},

		{name: "route whitelisted", plugins: `{"consumer-restriction":{"type":"route_id","whitelist":["r1"]}}`, key: "jane-key", routeID: "r1"},
		{name: "route not whitelisted", plugins: `{"consumer-restriction":{"type":"route_id","whitelist":["r1"]}}`, key: "jane-key", routeID: "r2", status: 403, body: routeDenied},
		{name: "service blacklisted", plugins: `{"consumer-restriction":{"type":"service_id","blacklist":["s1"]}}`, key: "jane-key", serviceID: "s1", status: 403, body: serviceDenid},
		{name: "no service", plugins: `{"consumer-restriction":{"type":"service_id","blacklist":["s1"]}}`, key: "jane-key", status: 401, body: noService},
	})
}

// Without an authentication plugin there is no consumer: 401.
func TestNoAuthentication(t *testing.T) {
	reg := plugintest.Registry(t, consumerrestriction.Def)
	ch := plugintest.MustBuild(t, reg, plugintest.Config{Route: `{"consumer-restriction":{"whitelist":["jack"]}}`})
	r := plugintest.NewRequest(req("GET", "jack-key"), "127.0.0.1:5000")
	if res := r.Run(ch); res.Status != 401 || string(res.Body) != noConsumer {
		t.Fatalf("got %d %s, want 401 %s", res.Status, res.Body, noConsumer)
	}
}

func TestBuildErrors(t *testing.T) {
	reg := plugintest.Registry(t, consumerrestriction.Def)
	for _, tt := range []struct{ conf, want string }{
		{`{}`, "/: missing property 'blacklist'; /: missing property 'whitelist'; /: missing property 'allowed_by_methods'"},
		{`{"whitelist":[]}`, "/whitelist: minItems"},
		{`{"type":"ip","whitelist":["a"]}`, "/type"},
		{`{"allowed_by_methods":[{"user":"a","methods":["FETCH"]}]}`, "/allowed_by_methods/0/methods/0"},
		{`{"whitelist":["a"],"rejected_code":199}`, "/rejected_code"},
		{`{"whitelist":["a"],"rejected_code":600}`, "/rejected_code"},
		{`{"whitelist":["a"],"white":["b"]}`, "additional properties 'white' not allowed"},
	} {
		_, err := plugintest.Build(t, reg, plugintest.Config{Route: `{"consumer-restriction":` + tt.conf + `}`})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.conf, err, tt.want)
		}
	}
}
