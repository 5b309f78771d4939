package prometheus

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
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
	mu    sync.Mutex // serialises growing loops
	loops atomic.Pointer[[]*loopSeries]
	reg   atomic.Pointer[plugin.Registry]
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
	if i < len(ls) {
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

var (
	descStatus = prom.NewDesc("apisix_http_status", "HTTP status codes per service in APISIX",
		[]string{"code", "route", "matched_uri", "matched_host", "service", "consumer", "node"}, nil)
	descLatency = prom.NewDesc("apisix_http_latency", "HTTP request latency in milliseconds per service in APISIX",
		[]string{"type", "route", "service", "consumer", "node"}, nil)
	descBandwidth = prom.NewDesc("apisix_bandwidth", "Total bandwidth in bytes consumed per service in APISIX",
		[]string{"type", "route", "service", "consumer", "node"}, nil)
	descRequests = prom.NewDesc("apisix_http_requests_total",
		"The total number of client requests since APISIX started", nil, nil)
	descConns = prom.NewDesc("apisix_nginx_http_current_connections", "Number of HTTP connections",
		[]string{"state"}, nil)
	descNode  = prom.NewDesc("apisix_node_info", "Info of APISIX node", []string{"hostname"}, nil)
	descCalls = prom.NewDesc("sluice_plugin_phase_calls_total",
		"Plugin hook calls timed on sampled requests, per plugin and phase", []string{"plugin", "phase"}, nil)
	descSeconds = prom.NewDesc("sluice_plugin_phase_seconds_total",
		"Time spent in plugin hooks on sampled requests, per plugin and phase", []string{"plugin", "phase"}, nil)
)

// Describe implements prometheus.Collector.
func (e *Exporter) Describe(ch chan<- *prom.Desc) {
	for _, d := range []*prom.Desc{descStatus, descLatency, descBandwidth, descRequests, descConns, descNode, descCalls, descSeconds} {
		ch <- d
	}
}

// statusKey and aggKey are label sets of the exported metrics: the loops'
// series summed.
type statusKey struct {
	k    seriesKey
	code int
}

type aggKey struct {
	route, service, consumer, node string
}

type agg struct {
	lat [nLat]struct {
		n   [nBuckets + 1]uint64
		sum uint64
	}
	bw [nBW]uint64
}

// Collect implements prometheus.Collector: it sums every loop's series.
func (e *Exporter) Collect(ch chan<- prom.Metric) {
	status := map[statusKey]uint64{}
	nodes := map[statusKey]string{}
	aggs := map[aggKey]*agg{}
	var total uint64
	for _, l := range *e.loops.Load() {
		l.mu.Lock()
		for _, s := range l.all {
			for cl := range s.codes {
				arr := s.codes[cl].Load()
				if arr == nil {
					continue
				}
				for i := range arr {
					if n := arr[i].load(); n > 0 {
						sk := statusKey{s.key, cl*100 + i}
						status[sk] += n
						nodes[sk] = s.node
						total += n
					}
				}
			}
			ak := aggKey{s.key.route, s.key.service, s.key.consumer, s.node}
			a := aggs[ak]
			if a == nil {
				a = &agg{}
				aggs[ak] = a
			}
			for t := range s.lat {
				for b := range s.lat[t].n {
					a.lat[t].n[b] += s.lat[t].n[b].load()
				}
				a.lat[t].sum += s.lat[t].sum.load()
			}
			for t := range s.bw {
				a.bw[t] += s.bw[t].load()
			}
		}
		l.mu.Unlock()
	}
	for sk, n := range status {
		k := &sk.k
		ch <- prom.MustNewConstMetric(descStatus, prom.CounterValue, float64(n),
			strconv.Itoa(sk.code), k.route, k.uri, k.host, k.service, k.consumer, nodes[sk])
	}
	for ak, a := range aggs {
		for t := range a.lat {
			h := &a.lat[t]
			var cum uint64
			buckets := make(map[float64]uint64, nBuckets)
			for b := range nBuckets {
				cum += h.n[b]
				buckets[bucketsMS[b]] = cum
			}
			cum += h.n[nBuckets]
			if cum == 0 {
				continue
			}
			ch <- prom.MustNewConstHistogram(descLatency, cum, float64(h.sum)/float64(time.Millisecond), buckets,
				latTypes[t], ak.route, ak.service, ak.consumer, ak.node)
		}
		for t := range a.bw {
			ch <- prom.MustNewConstMetric(descBandwidth, prom.CounterValue, float64(a.bw[t]),
				bwTypes[t], ak.route, ak.service, ak.consumer, ak.node)
		}
	}
	ch <- prom.MustNewConstMetric(descRequests, prom.GaugeValue, float64(total))
	if e.Connections != nil {
		ch <- prom.MustNewConstMetric(descConns, prom.GaugeValue, float64(e.Connections()), "active")
	}
	host, _ := os.Hostname()
	ch <- prom.MustNewConstMetric(descNode, prom.GaugeValue, 1, host)
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
	s, err := Default.Listen(cfg.PrometheusAddr(), cfg.PluginAttr.Prometheus.ExportURI, reg)
	if err != nil {
		return nil, fmt.Errorf("plugin_attr.prometheus.export_addr: %w", err)
	}
	return s, nil
}
