package core

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Resources is the standalone provider's file (conf/routes.yaml): APISIX v3
// resources, each a list of objects with an id. Resources sluice cannot serve
// yet are rejected by name rather than ignored.
type Resources struct {
	Routes         []Route          `yaml:"routes"`
	Upstreams      []Upstream       `yaml:"upstreams"`
	StreamRoutes   []StreamRoute    `yaml:"stream_routes"`
	Services       []Service        `yaml:"services"`
	Consumers      []Consumer       `yaml:"consumers"`
	ConsumerGroups []ConsumerGroup  `yaml:"consumer_groups"`
	SSLs           []any            `yaml:"ssls" unsupported:"ssls (TLS)"`
	GlobalRules    []GlobalRule     `yaml:"global_rules"`
	PluginConfigs  []PluginConfig   `yaml:"plugin_configs"`
	PluginMetadata []PluginMetadata `yaml:"plugin_metadata"`
}

// Upstream is APISIX's upstream object.
type Upstream struct {
	ID           string            `yaml:"id"`
	Name         string            `yaml:"name"`
	Desc         string            `yaml:"desc"`
	Labels       map[string]string `yaml:"labels"`
	Type         string            `yaml:"type"`
	Nodes        Nodes             `yaml:"nodes"`
	Retries      *int              `yaml:"retries"`
	RetryTimeout float64           `yaml:"retry_timeout"`
	Timeout      *Timeouts         `yaml:"timeout"`
	Scheme       string            `yaml:"scheme"`
	PassHost     string            `yaml:"pass_host"`
	UpstreamHost string            `yaml:"upstream_host"`
	HashOn       string            `yaml:"hash_on"`
	Key          string            `yaml:"key"`
	Checks       *Checks           `yaml:"checks"`
	Keepalive    *KeepalivePool    `yaml:"keepalive_pool"`
	TLS          any               `yaml:"tls" unsupported:"upstream TLS"`
	ServiceName  string            `yaml:"service_name" unsupported:"service discovery"`
	DiscoverType string            `yaml:"discovery_type" unsupported:"service discovery"`
}

// Timeouts are APISIX's per-upstream timeouts, in seconds.
type Timeouts struct {
	Connect float64 `yaml:"connect"`
	Send    float64 `yaml:"send"`
	Read    float64 `yaml:"read"`
}

// KeepalivePool is APISIX's upstream keepalive_pool: how many idle
// connections to each node a loop keeps (size), how long one may rest
// (idle_timeout, seconds; 0: until the node closes it) and how many requests
// one serves before it is closed (requests). An unset field takes config.yaml's
// http.upstream_keepalive_pool.
type KeepalivePool struct {
	Size        *int     `yaml:"size"`
	IdleTimeout *float64 `yaml:"idle_timeout"`
	Requests    *int     `yaml:"requests"`
}

// Node is one upstream address with its weight.
type Node struct {
	Host     string            `yaml:"host"`
	Port     int               `yaml:"port"`
	Weight   int               `yaml:"weight"`
	Priority int               `yaml:"priority"`
	Metadata map[string]string `yaml:"metadata"`
}

// Nodes accepts both of APISIX's shapes: {"host:port": weight} and a list of
// {host, port, weight}.
type Nodes []Node

func (ns *Nodes) decodeYAML(d *decoder, path string, n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			host, port, err := net.SplitHostPort(k.Value)
			p := 0 // no port: the scheme's (compileUpstream), as APISIX fills it
			switch {
			case err == nil:
				if p, err = strconv.Atoi(port); err != nil {
					return d.errf(join(path, k.Value), k, "bad port %q", port)
				}
			case strings.HasPrefix(path, "stream_routes") || strings.Count(k.Value, ":") > 0 && !strings.HasPrefix(k.Value, "["):
				// A stream's node has no scheme to take a port from (APISIX
				// does not fill it either); a bare IPv6 address is ambiguous.
				return d.errf(join(path, k.Value), k, "want \"host:port\": %v", err)
			default:
				host = strings.TrimSuffix(strings.TrimPrefix(k.Value, "["), "]")
			}
			w, err := strconv.Atoi(v.Value)
			if err != nil || v.Kind != yaml.ScalarNode {
				return d.errf(join(path, k.Value), v, "want an integer weight, got %s", kindName(v))
			}
			*ns = append(*ns, Node{Host: host, Port: p, Weight: w})
		}
		return nil
	case yaml.SequenceNode:
		var list []Node
		for i, c := range n.Content {
			var nd Node
			nd.Weight = 1
			if err := d.decode(fmt.Sprintf("%s[%d]", path, i), c, reflectValue(&nd)); err != nil {
				return err
			}
			list = append(list, nd)
		}
		*ns = list
		return nil
	}
	return d.errf(path, n, "want a mapping of \"host:port\": weight or a list of nodes, got %s", kindName(n))
}

// StreamRoute is APISIX's stream_route object: TCP traffic arriving on
// server_port (and from remote_addr) goes to its upstream.
type StreamRoute struct {
	ID         string            `yaml:"id"`
	Name       string            `yaml:"name"`
	Desc       string            `yaml:"desc"`
	Labels     map[string]string `yaml:"labels"`
	ServerAddr string            `yaml:"server_addr"`
	ServerPort int               `yaml:"server_port"`
	RemoteAddr string            `yaml:"remote_addr"`
	Upstream   *Upstream         `yaml:"upstream"`
	UpstreamID string            `yaml:"upstream_id"`
	SNI        string            `yaml:"sni" unsupported:"TLS SNI matching"`
	ServiceID  string            `yaml:"service_id"`
	Plugins    map[string]any    `yaml:"plugins"`
	Protocol   any               `yaml:"protocol" unsupported:"xRPC protocols"`
}

// Route is APISIX's HTTP route object, as far as sluice serves it today.
type Route struct {
	ID             string            `yaml:"id"`
	Name           string            `yaml:"name"`
	Desc           string            `yaml:"desc"`
	Labels         map[string]string `yaml:"labels"`
	URI            string            `yaml:"uri"`
	URIs           []string          `yaml:"uris"`
	Host           string            `yaml:"host"`
	Hosts          []string          `yaml:"hosts"`
	Methods        []string          `yaml:"methods"`
	RemoteAddr     string            `yaml:"remote_addr"`
	RemoteAddrs    []string          `yaml:"remote_addrs"`
	Priority       int               `yaml:"priority"`
	Status         *int              `yaml:"status"`
	Upstream       *Upstream         `yaml:"upstream"`
	UpstreamID     string            `yaml:"upstream_id"`
	Vars           []any             `yaml:"vars"`
	Plugins        map[string]any    `yaml:"plugins"`
	PluginConfigID string            `yaml:"plugin_config_id"`
	ServiceID      string            `yaml:"service_id"`
	EnableWS       bool              `yaml:"enable_websocket"`
	Timeout        *Timeouts         `yaml:"timeout"`
	FilterFunc     string            `yaml:"filter_func" unsupported:"filter_func (Lua)"`
	Script         string            `yaml:"script" unsupported:"script (Lua)"`
}
