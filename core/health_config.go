package core

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Checks is an upstream's `checks`: APISIX's health checker. Active checks
// are required (passive ones alone could mark a node down but never up
// again); passive ones are optional.
type Checks struct {
	Active  *ActiveCheck  `yaml:"active"`
	Passive *PassiveCheck `yaml:"passive"`
}

// ActiveCheck is `checks.active`: probes sent to every node on a timer.
type ActiveCheck struct {
	Type        string   `yaml:"type"`
	Timeout     *float64 `yaml:"timeout"`
	Concurrency *int     `yaml:"concurrency"`
	Host        string   `yaml:"host"`
	Port        int      `yaml:"port"`
	HTTPPath    string   `yaml:"http_path"`
	// HTTPSVerifyCertificate belongs to https probes, which are not
	// supported yet; APISIX fills it in by default, so it is accepted.
	HTTPSVerifyCertificate *bool            `yaml:"https_verify_certificate"`
	ReqHeaders             []string         `yaml:"req_headers"`
	Healthy                *ActiveHealthy   `yaml:"healthy"`
	Unhealthy              *ActiveUnhealthy `yaml:"unhealthy"`
}

// ActiveHealthy is `checks.active.healthy`.
type ActiveHealthy struct {
	Interval     *float64 `yaml:"interval"`
	HTTPStatuses []int    `yaml:"http_statuses"`
	Successes    *int     `yaml:"successes"`
}

// ActiveUnhealthy is `checks.active.unhealthy`.
type ActiveUnhealthy struct {
	Interval     *float64 `yaml:"interval"`
	HTTPStatuses []int    `yaml:"http_statuses"`
	HTTPFailures *int     `yaml:"http_failures"`
	TCPFailures  *int     `yaml:"tcp_failures"`
	Timeouts     *int     `yaml:"timeouts"`
}

// PassiveCheck is `checks.passive`: the outcomes of proxied traffic.
type PassiveCheck struct {
	Type      string            `yaml:"type"`
	Healthy   *PassiveHealthy   `yaml:"healthy"`
	Unhealthy *PassiveUnhealthy `yaml:"unhealthy"`
}

// PassiveHealthy is `checks.passive.healthy`.
type PassiveHealthy struct {
	HTTPStatuses []int `yaml:"http_statuses"`
	Successes    *int  `yaml:"successes"`
}

// PassiveUnhealthy is `checks.passive.unhealthy`.
type PassiveUnhealthy struct {
	HTTPStatuses []int `yaml:"http_statuses"`
	HTTPFailures *int  `yaml:"http_failures"`
	TCPFailures  *int  `yaml:"tcp_failures"`
	Timeouts     *int  `yaml:"timeouts"`
}

// statusSet is a set of HTTP statuses 200..599.
type statusSet [7]uint64

func (s *statusSet) has(status int) bool {
	i := uint(status - 200)
	return i < 400 && s[i>>6]&(1<<(i&63)) != 0
}

func (s *statusSet) add(status int) { i := uint(status - 200); s[i>>6] |= 1 << (i & 63) }

// thresholds are the counts that flip a node's health, per source (active
// probes or passive traffic): 0 never counts that kind.
type thresholds struct {
	successes, httpFailures, tcpFailures, timeouts uint32
}

// healthChecks is a compiled `checks`.
type healthChecks struct {
	typ         string // active probe type: http or tcp
	timeout     time.Duration
	concurrency int
	host        string // Host of http probes; "" = the node's address
	port        uint16 // 0 = the node's port
	path        string
	headers     []string         // "Name: value", as configured
	hostHeader  bool             // headers has its own Host
	interval    [2]time.Duration // [up, down]: probe period for healthy and unhealthy nodes
	okStatus    statusSet
	badStatus   statusSet
	active      thresholds
	passive     *passiveChecks // nil: no passive checks
}

type passiveChecks struct {
	statuses  bool // count HTTP statuses (type http); tcp counts only failures
	okStatus  statusSet
	badStatus statusSet
	limits    thresholds
}

// APISIX's defaults (apisix/schema_def.lua, health_checker).
var (
	defActiveOK   = []int{200, 302}
	defActiveBad  = []int{429, 404, 500, 501, 502, 503, 504, 505}
	defPassiveOK  = []int{200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308}
	defPassiveBad = []int{429, 500, 503}
)

// compileChecks validates c (from an upstream at path p) and compiles it.
func compileChecks(d *decoder, p string, c *Checks) (*healthChecks, error) {
	if c.Active == nil {
		if c.Passive != nil {
			return nil, d.errf(p+".passive", nil, "needs checks.active too: passive checks can mark a node down but only active probes bring it back (APISIX requires active)")
		}
		return nil, d.errf(p, nil, "needs active (and optionally passive)")
	}
	a := c.Active
	ap := p + ".active"
	hc := &healthChecks{typ: orDefault(a.Type, "http"), path: orDefault(a.HTTPPath, "/"), host: a.Host}
	switch hc.typ {
	case "http", "tcp":
	case "https":
		return nil, d.errf(ap+".type", nil, "https probes are not supported yet (upstream TLS is not); use http or tcp")
	default:
		return nil, d.errf(ap+".type", nil, "want http, https or tcp, got %q", a.Type)
	}
	var err error
	if hc.timeout, err = positiveSeconds(d, ap+".timeout", a.Timeout, 1); err != nil {
		return nil, err
	}
	hc.concurrency = 10
	if a.Concurrency != nil {
		if *a.Concurrency < 1 {
			return nil, d.errf(ap+".concurrency", nil, "want at least 1, got %d", *a.Concurrency)
		}
		hc.concurrency = *a.Concurrency
	}
	if a.Port != 0 {
		if a.Port < 1 || a.Port > 65535 {
			return nil, d.errf(ap+".port", nil, "want 1 to 65535, got %d", a.Port)
		}
		hc.port = uint16(a.Port)
	}
	if !strings.HasPrefix(hc.path, "/") || strings.ContainsAny(hc.path, " \t\r\n") {
		return nil, d.errf(ap+".http_path", nil, "want a path starting with / and without spaces, got %q", hc.path)
	}
	if strings.ContainsAny(hc.host, " \t\r\n") {
		return nil, d.errf(ap+".host", nil, "want a host name, got %q", hc.host)
	}
	for i, h := range a.ReqHeaders {
		name, value, ok := strings.Cut(h, ":")
		if !ok || !validToken(name) || strings.ContainsAny(value, "\r\n") {
			return nil, d.errf(fmt.Sprintf("%s.req_headers[%d]", ap, i), nil, "want \"Name: value\", got %q", h)
		}
		hc.hostHeader = hc.hostHeader || strings.EqualFold(name, "host")
		hc.headers = append(hc.headers, h)
	}
	hy, uy := a.Healthy, a.Unhealthy
	if hy == nil {
		hy = &ActiveHealthy{}
	}
	if uy == nil {
		uy = &ActiveUnhealthy{}
	}
	for i, v := range []struct {
		key string
		val *float64
	}{{"healthy", hy.Interval}, {"unhealthy", uy.Interval}} {
		if hc.interval[i], err = positiveSeconds(d, ap+"."+v.key+".interval", v.val, 1); err != nil {
			return nil, err
		}
	}
	if err := statuses(d, ap+".healthy.http_statuses", hy.HTTPStatuses, defActiveOK, &hc.okStatus); err != nil {
		return nil, err
	}
	if err := statuses(d, ap+".unhealthy.http_statuses", uy.HTTPStatuses, defActiveBad, &hc.badStatus); err != nil {
		return nil, err
	}
	if hc.active, err = limits(d, ap, hy.Successes, uy.HTTPFailures, uy.TCPFailures, uy.Timeouts, [4]int{2, 5, 2, 3}); err != nil {
		return nil, err
	}
	if c.Passive == nil {
		return hc, nil
	}
	ps := c.Passive
	pp := p + ".passive"
	pc := &passiveChecks{statuses: true}
	switch ps.Type {
	case "", "http", "https": // passive checks read the traffic; https changes nothing
	case "tcp":
		pc.statuses = false
	default:
		return nil, d.errf(pp+".type", nil, "want http, https or tcp, got %q", ps.Type)
	}
	phy, puy := ps.Healthy, ps.Unhealthy
	if phy == nil {
		phy = &PassiveHealthy{}
	}
	if puy == nil {
		puy = &PassiveUnhealthy{}
	}
	if err := statuses(d, pp+".healthy.http_statuses", phy.HTTPStatuses, defPassiveOK, &pc.okStatus); err != nil {
		return nil, err
	}
	if err := statuses(d, pp+".unhealthy.http_statuses", puy.HTTPStatuses, defPassiveBad, &pc.badStatus); err != nil {
		return nil, err
	}
	if pc.limits, err = limits(d, pp, phy.Successes, puy.HTTPFailures, puy.TCPFailures, puy.Timeouts, [4]int{5, 5, 2, 7}); err != nil {
		return nil, err
	}
	hc.passive = pc
	return hc, nil
}

// positiveSeconds reads a duration in seconds (def when unset). APISIX
// takes whole seconds for intervals; sluice also takes fractions, rounded
// up to the timer wheel's 10 ms.
func positiveSeconds(d *decoder, key string, v *float64, def float64) (time.Duration, error) {
	f := def
	if v != nil {
		f = *v
	}
	if !(f > 0) || f > 86400 {
		return 0, d.errf(key, nil, "want a positive number of seconds (at most 86400), got %v", f)
	}
	return max(seconds(f), WheelTick), nil
}

func statuses(d *decoder, key string, list, def []int, out *statusSet) error {
	if list == nil {
		list = def
	}
	if len(list) == 0 {
		return d.errf(key, nil, "want at least one status")
	}
	for i, s := range list {
		if s < 200 || s > 599 {
			return d.errf(fmt.Sprintf("%s[%d]", key, i), nil, "want a status from 200 to 599, got %d", s)
		}
		if slices.Index(list, s) != i {
			return d.errf(fmt.Sprintf("%s[%d]", key, i), nil, "duplicate status %d", s)
		}
		out.add(s)
	}
	return nil
}

// limits reads successes, http_failures, tcp_failures and timeouts (each 1
// to 254, as APISIX), defaulting to def in that order.
func limits(d *decoder, p string, succ, httpF, tcpF, tmo *int, def [4]int) (thresholds, error) {
	keys := [4]string{"healthy.successes", "unhealthy.http_failures", "unhealthy.tcp_failures", "unhealthy.timeouts"}
	var out [4]uint32
	for i, v := range [4]*int{succ, httpF, tcpF, tmo} {
		n := def[i]
		if v != nil {
			n = *v
		}
		if n < 1 || n > 254 {
			return thresholds{}, d.errf(p+"."+keys[i], nil, "want 1 to 254, got %d", n)
		}
		out[i] = uint32(n)
	}
	return thresholds{successes: out[0], httpFailures: out[1], tcpFailures: out[2], timeouts: out[3]}, nil
}

// probeRequest is the request an http probe sends to node: HTTP/1.0, so
// the node closes after answering, as lua-resty-healthcheck does.
func (hc *healthChecks) probeRequest(node string) []byte {
	b := make([]byte, 0, 64+len(hc.path)+len(hc.host))
	b = append(b, "GET "...)
	b = append(b, hc.path...)
	b = append(b, " HTTP/1.0\r\n"...)
	if !hc.hostHeader {
		b = append(b, "Host: "...)
		b = append(b, orDefault(hc.host, node)...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "User-Agent: sluice-healthcheck\r\nConnection: close\r\n"...)
	for _, h := range hc.headers {
		b = append(b, h...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// same reports whether two compiled checks probe alike (so a checker can
// keep its schedule across a snapshot that did not change them).
func (hc *healthChecks) same(o *healthChecks) bool {
	return hc.typ == o.typ && hc.timeout == o.timeout && hc.concurrency == o.concurrency &&
		hc.host == o.host && hc.port == o.port && hc.path == o.path &&
		slices.Equal(hc.headers, o.headers) && hc.interval == o.interval
}

// hostFor is the Host header value for a node address.
func hostFor(ip string, port uint16) string {
	if strings.Contains(ip, ":") {
		ip = "[" + ip + "]"
	}
	if port == 80 {
		return ip
	}
	return ip + ":" + strconv.Itoa(int(port))
}
