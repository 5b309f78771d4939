package peers

import (
	"strings"
	"testing"
)

func TestResultsMedianAndRatios(t *testing.T) {
	rps := Metric{Key: "rps", Title: "req/s", Unit: "k", Scale: 1e3, Decimals: 1}
	lat := Metric{Key: "p99", Title: "p99", Unit: "ms", Scale: 1, Decimals: 1, LowerBetter: true}
	r := NewResults([]string{"direct", "sluice", "nginx", "haproxy"}, []string{"nginx", "haproxy"}, rps, lat)
	for _, v := range []float64{70e3, 74e3, 90e3} {
		r.Add("rps", "nginx", v)
	}
	for _, v := range []float64{75e3, 76e3} {
		r.Add("rps", "haproxy", v)
	}
	r.Add("rps", "direct", 150e3)
	r.Add("p99", "nginx", 1.6)
	r.Add("p99", "haproxy", 1.1)
	r.SetStatus("sluice", "failed to start: not built")

	if st, _ := r.Get("rps", "nginx"); st.Median != 74e3 || st.Min != 70e3 || st.Max != 90e3 || st.N != 3 {
		t.Fatalf("nginx: %+v", st)
	}
	if st, _ := r.Get("rps", "haproxy"); st.Median != 75.5e3 {
		t.Fatalf("haproxy median of two: %+v", st)
	}
	if v, row := r.best(rps); row != "haproxy" || v != 75.5e3 {
		t.Fatalf("best rps: %v %v", v, row)
	}
	if v, row := r.best(lat); row != "haproxy" || v != 1.1 {
		t.Fatalf("best p99 (lower is better): %v %v", v, row)
	}
	var b strings.Builder
	r.Write(&b)
	r.WriteSummary(&b)
	out := b.String()
	for _, want := range []string{
		"| nginx | 74.0 | 70.0–90.0 | 3 | 0.98× | 0.49× |",
		"| sluice | – | | | | | failed to start: not built |",
		"| direct | 150.0 | 150.0–150.0 | 1 | 1.99× | 1.00× |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestRoutesRoundTrip(t *testing.T) {
	in := []Route{{Port: 9100, Upstream: "127.0.0.1:6379"}, {Port: 9101, Upstream: "127.0.0.1:5201"}}
	out, err := ParseRoutes(FormatRoutes(in))
	if err != nil || len(out) != 2 || out[0] != in[0] || out[1] != in[1] {
		t.Fatalf("got %v, %v", out, err)
	}
	if _, err := ParseRoutes("9100"); err == nil {
		t.Fatal("want an error without =")
	}
	u := Upstreams{Hold: 1, Flood: 2, HTTP: 3, Ctrl: 4}
	if got, err := ParseUpstreams(FormatUpstreams(u)); err != nil || got != u {
		t.Fatalf("got %v, %v", got, err)
	}
}
