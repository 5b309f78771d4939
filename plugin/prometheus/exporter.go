package prometheus

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sluice-gateway/sluice/core"
	"github.com/sluice-gateway/sluice/plugin"
)

// Default is the exporter Def reports to and cmd/sluice serves.
var Default = NewExporter()

// Exporter holds the request metrics of every prometheus instance that
// reports to it, per event loop, and exposes them.
type Exporter struct {
	mu       sync.Mutex // serialises growing loops and configuring
	loops    atomic.Pointer[[]*loopSeries]
	reg      atomic.Pointer[plugin.Registry]
	attr     atomic.Pointer[attr]
	disabled atomic.Pointer[disabledLabels]
	// Connections, when set, reports the node's open client sessions
	// (apisix_nginx_http_current_connections{state="active"}).
	Connections func() int64
}

// NewExporter makes an empty exporter.
func NewExporter() *Exporter {
	e := &Exporter{}
	e.loops.Store(&[]*loopSeries{})
	return e
}

func (e *Exporter) setRegistry(r *plugin.Registry) { e.reg.Store(r) }

// loop returns loop i's series, making room for it on first use.
func (e *Exporter) loop(i int) *loopSeries {
	ls := *e.loops.Load()
	if i >= 0 && i < len(ls) {
		return ls[i]
	}
	return e.grow(i)
}

func (e *Exporter) grow(i int) *loopSeries {
	if i < 0 {
		panic("prometheus: negative loop index")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ls := *e.loops.Load()
	if i < len(ls) {
		return ls[i]
	}
	n := make([]*loopSeries, i+1)
	copy(n, ls)
	for j := len(ls); j <= i; j++ {
		n[j] = &loopSeries{}
	}
	e.loops.Store(&n)
	return n[i]
}

// disabledLabels is the metadata's disabled_labels: per metric, the
// built-in labels exported as "" (by their index in
// core.PrometheusBuiltinLabels).
type disabledLabels [nMetric][8]bool

func (e *Exporter) setDisabled(md []byte) error {
	var m struct {
		Disabled map[string][]string `json:"disabled_labels"`
	}
	if len(md) > 0 {
		if err := json.Unmarshal(md, &m); err != nil {
			return err
		}
	}
	var d disabledLabels
	for mi, name := range metricNames {
		for _, l := range m.Disabled[name] {
			if i := slices.Index(core.PrometheusBuiltinLabels[name], l); i >= 0 {
				d[mi][i] = true
			}
		}
	}
	e.disabled.Store(&d)
	return nil
}

var descCalls = prom.NewDesc("sluice_plugin_phase_calls_total",
	"Plugin hook calls timed on sampled requests, per plugin and phase", []string{"plugin", "phase"}, nil)
var descSeconds = prom.NewDesc("sluice_plugin_phase_seconds_total",
	"Time spent in plugin hooks on sampled requests, per plugin and phase", []string{"plugin", "phase"}, nil)

// Describe implements prometheus.Collector.
func (e *Exporter) Describe(ch chan<- *prom.Desc) {
	a := e.attrs()
	for _, d := range []*prom.Desc{a.descStatus, a.descLatency, a.descBandwidth, a.descRequests, a.descConns, a.descNode,
		a.descStreamConns, a.descStreamActive, a.descStreamStatus, a.descStreamBandwidth, descCalls, descSeconds} {
		ch <- d
	}
}

// labels are one metric's label values for a series: the built-ins (the
// disabled ones "") then the extra labels'.
func labels(s *series, m int, d *disabledLabels, code string) []string {
	k := &s.key
	var out []string
	switch m {
	case mStatus:
		out = []string{code, k.route, k.uri, k.host, k.service, k.consumer, s.node}
	default:
		out = []string{"", k.route, k.service, k.consumer, s.node}
	}
	if d != nil {
		for i := 1; i < len(out); i++ {
			if d[m][i] {
				out[i] = ""
			}
		}
	}
	for _, vi := range s.a.labels[m] {
		out = append(out, k.extra[vi])
	}
	return out
}

type histAgg struct {
	n   []uint64
	sum uint64
}

// Collect implements prometheus.Collector: it sums every loop's series.
func (e *Exporter) Collect(ch chan<- prom.Metric) {
	a := e.attrs()
	d := e.disabled.Load()
	status := map[string]*struct {
		vals []string
		n    uint64
	}{}
	lat := map[string]*struct {
		vals []string
		h    [nLat]histAgg
	}{}
	bw := map[string]*struct {
		vals []string
		n    [nBW]uint64
	}{}
	type streamAgg struct {
		conns  map[string]uint64
		active map[netip.AddrPort]int64
		codes  map[[3]string]uint64
		bytes  map[[3]string]uint64
	}
	st := streamAgg{map[string]uint64{}, map[netip.AddrPort]int64{}, map[[3]string]uint64{}, map[[3]string]uint64{}}
	var total uint64
	for _, l := range *e.loops.Load() {
		l.mu.Lock()
		for _, s := range l.all {
			if s.a != a {
				continue // made under other settings (an exporter reconfigured in tests)
			}
			for cl := range s.codes {
				arr := s.codes[cl].Load()
				if arr == nil {
					continue
				}
				for i := range arr {
					if n := arr[i].load(); n > 0 {
						vals := labels(s, mStatus, d, strconv.Itoa(cl*100+i))
						k := strings.Join(vals, "\xff")
						x := status[k]
						if x == nil {
							x = &struct {
								vals []string
								n    uint64
							}{vals: vals}
							status[k] = x
						}
						x.n += n
						total += n
					}
				}
			}
			vals := labels(s, mLatency, d, "")
			k := strings.Join(vals, "\xff")
			la := lat[k]
			if la == nil {
				la = &struct {
					vals []string
					h    [nLat]histAgg
				}{vals: vals}
				for t := range la.h {
					la.h[t].n = make([]uint64, len(a.bucketNS)+1)
				}
				lat[k] = la
			}
			for t := range s.lat {
				for b := range s.lat[t].n {
					la.h[t].n[b] += s.lat[t].n[b].load()
				}
				la.h[t].sum += s.lat[t].sum.load()
			}
			vals = labels(s, mBandwidth, d, "")
			k = strings.Join(vals, "\xff")
			ba := bw[k]
			if ba == nil {
				ba = &struct {
					vals []string
					n    [nBW]uint64
				}{vals: vals}
				bw[k] = ba
			}
			for t := range s.bw {
				ba.n[t] += s.bw[t].load()
			}
		}
		for k, s := range l.streams {
			listen := k.listen.String()
			if n := s.started.load(); n > 0 {
				st.conns[k.route] += n
				st.active[k.listen] += int64(n)
			}
			if n := s.ended.load(); n > 0 {
				st.active[k.listen] -= int64(n)
				node := ""
				if k.node.IsValid() {
					node = k.node.String()
				}
				for i, code := range streamCodes {
					if c := s.codes[i].load(); c > 0 {
						st.codes[[3]string{strconv.Itoa(code), listen, node}] += c
					}
				}
				in, out := s.bytes[0].load(), s.bytes[1].load()
				st.bytes[[3]string{listen, "ingress", "downstream"}] += in
				st.bytes[[3]string{listen, "egress", "upstream"}] += in
				st.bytes[[3]string{listen, "ingress", "upstream"}] += out
				st.bytes[[3]string{listen, "egress", "downstream"}] += out
			}
		}
		l.mu.Unlock()
	}
	for _, x := range status {
		ch <- prom.MustNewConstMetric(a.descStatus, prom.CounterValue, float64(x.n), x.vals...)
	}
	for _, x := range lat {
		for t := range x.h {
			h := &x.h[t]
			var cum uint64
			buckets := make(map[float64]uint64, len(a.bucketsMS))
			for b, ms := range a.bucketsMS {
				cum += h.n[b]
				buckets[ms] = cum
			}
			cum += h.n[len(a.bucketsMS)]
			if cum == 0 {
				continue
			}
			vals := slices.Clone(x.vals)
			vals[0] = latTypes[t]
			ch <- prom.MustNewConstHistogram(a.descLatency, cum, float64(h.sum)/float64(time.Millisecond), buckets, vals...)
		}
	}
	for _, x := range bw {
		for t := range x.n {
			vals := slices.Clone(x.vals)
			vals[0] = bwTypes[t]
			ch <- prom.MustNewConstMetric(a.descBandwidth, prom.CounterValue, float64(x.n[t]), vals...)
		}
	}
	ch <- prom.MustNewConstMetric(a.descRequests, prom.GaugeValue, float64(total))
	if e.Connections != nil {
		ch <- prom.MustNewConstMetric(a.descConns, prom.GaugeValue, float64(e.Connections()), "active")
	}
	host, _ := os.Hostname()
	ch <- prom.MustNewConstMetric(a.descNode, prom.GaugeValue, 1, host)
	for route, n := range st.conns {
		ch <- prom.MustNewConstMetric(a.descStreamConns, prom.CounterValue, float64(n), route)
	}
	for listen, n := range st.active {
		ch <- prom.MustNewConstMetric(a.descStreamActive, prom.GaugeValue, float64(n), listen.String())
	}
	for k, n := range st.codes {
		ch <- prom.MustNewConstMetric(a.descStreamStatus, prom.CounterValue, float64(n), k[:]...)
	}
	for k, n := range st.bytes {
		ch <- prom.MustNewConstMetric(a.descStreamBandwidth, prom.CounterValue, float64(n), k[:]...)
	}
	if r := e.reg.Load(); r != nil {
		r.Costs(func(name, phase string, calls int64, total time.Duration) {
			ch <- prom.MustNewConstMetric(descCalls, prom.CounterValue, float64(calls), name, phase)
			ch <- prom.MustNewConstMetric(descSeconds, prom.CounterValue, total.Seconds(), name, phase)
		})
	}
}

// Handler serves the exposition: this exporter's metrics, the Go runtime's
// and the process's. reg (may be nil) supplies the per-plugin costs.
func (e *Exporter) Handler(reg *plugin.Registry) http.Handler {
	if reg != nil {
		e.setRegistry(reg)
	}
	r := prom.NewRegistry()
	r.MustRegister(e, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{ErrorLog: errLog{}})
}

type errLog struct{}

func (errLog) Println(v ...any) { core.Warnf("prometheus: %v", v...) }

// Server is the exposition listener.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Listen serves the exposition at uri on addr ("ip:port") until Close,
// answering 404 to any other path and 405 to methods other than GET and
// HEAD.
func (e *Exporter) Listen(addr, uri string, reg *plugin.Registry) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	h := e.Handler(reg)
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != uri {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			core.Warnf("prometheus: export server on %s: %v", ln.Addr(), err)
		}
	}()
	return s, nil
}

// Addr is where the server listens.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Serve starts Default's exposition listener where cfg's
// plugin_attr.prometheus says, if the node enables prometheus (config.yaml
// plugins); it returns nil, nil when it does not.
func Serve(cfg *core.Config, reg *plugin.Registry) (*Server, error) {
	if !reg.Enabled("prometheus") {
		return nil, nil
	}
	if err := Default.Configure(&cfg.PluginAttr.Prometheus); err != nil {
		return nil, err
	}
	s, err := Default.Listen(cfg.PrometheusAddr(), cfg.PluginAttr.Prometheus.ExportURI, reg)
	if err != nil {
		return nil, fmt.Errorf("plugin_attr.prometheus.export_addr: %w", err)
	}
	return s, nil
}
