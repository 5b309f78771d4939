package peers

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Metric is one column of figures: what was measured and how to show it.
type Metric struct {
	Key         string
	Title       string  // e.g. "iperf3, 1 stream"
	Unit        string  // e.g. "Gbit/s"
	Scale       float64 // shown value = raw / Scale
	Decimals    int
	LowerBetter bool // latency, memory
	NoRatio     bool // ratios would divide by figures near zero
}

// Show formats a raw value in the metric's unit.
func (m Metric) Show(v float64) string {
	return fmt.Sprintf("%.*f", m.Decimals, v/m.Scale)
}

// Results collects samples per metric and row, and the reason a row has none.
type Results struct {
	Rows    []string // display order
	Peers   []string // the rows "best peer" is taken from
	Metrics []Metric

	status map[string]string               // row -> why it has no figures
	vals   map[string]map[string][]float64 // metric -> row -> samples
	errs   map[string]map[string]string    // metric -> row -> last error
	notes  map[string]map[string]string    // metric -> row -> remark
}

// NewResults makes an empty result set.
func NewResults(rows, peers []string, metrics ...Metric) *Results {
	return &Results{Rows: rows, Peers: peers, Metrics: metrics,
		status: map[string]string{}, vals: map[string]map[string][]float64{},
		errs: map[string]map[string]string{}, notes: map[string]map[string]string{}}
}

func put[T any](m map[string]map[string]T, a, b string, v T) {
	if m[a] == nil {
		m[a] = map[string]T{}
	}
	m[a][b] = v
}

// Add records one sample.
func (r *Results) Add(metric, row string, v float64) {
	if r.vals[metric] == nil {
		r.vals[metric] = map[string][]float64{}
	}
	r.vals[metric][row] = append(r.vals[metric][row], v)
}

// Fail records why a run of metric through row gave no figure.
func (r *Results) Fail(metric, row string, err error) { put(r.errs, metric, row, err.Error()) }

// Note attaches a remark to a figure (e.g. wrk saw non-2xx responses).
func (r *Results) Note(metric, row, note string) { put(r.notes, metric, row, note) }

// SetStatus marks a row as having no figures at all ("skipped: …",
// "failed to start: …").
func (r *Results) SetStatus(row, status string) { r.status[row] = status }

// Status is why the row has no figures, or "".
func (r *Results) Status(row string) string { return r.status[row] }

// Stat is the median and range of a row's samples.
type Stat struct {
	Median, Min, Max float64
	N                int
}

// Get summarises the samples of metric through row.
func (r *Results) Get(metric, row string) (Stat, bool) {
	s := r.vals[metric][row]
	if len(s) == 0 {
		return Stat{}, false
	}
	c := append([]float64(nil), s...)
	sort.Float64s(c)
	med := c[len(c)/2]
	if len(c)%2 == 0 {
		med = (c[len(c)/2-1] + c[len(c)/2]) / 2
	}
	return Stat{Median: med, Min: c[0], Max: c[len(c)-1], N: len(c)}, true
}

// best is the best median among the peer rows, and which row it was.
func (r *Results) best(m Metric) (float64, string) {
	bv, br := math.NaN(), ""
	if m.NoRatio {
		return bv, br
	}
	for _, p := range r.Peers {
		st, ok := r.Get(m.Key, p)
		if !ok {
			continue
		}
		if br == "" || (m.LowerBetter && st.Median < bv) || (!m.LowerBetter && st.Median > bv) {
			bv, br = st.Median, p
		}
	}
	return bv, br
}

func ratio(v, ref float64) string {
	if math.IsNaN(ref) || ref == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v/ref)
}

// Write prints one Markdown table per metric: median, min–max, samples, and
// the ratio to the best peer and to the "direct" row.
func (r *Results) Write(w io.Writer) {
	for _, m := range r.Metrics {
		bv, br := r.best(m)
		direct, hasDirect := r.Get(m.Key, "direct")
		hasDirect = hasDirect && !m.NoRatio
		fmt.Fprintf(w, "\n%s, %s", m.Title, m.Unit)
		if m.LowerBetter {
			fmt.Fprint(w, " (lower is better)")
		}
		if br != "" {
			fmt.Fprintf(w, " — best peer: %s", br)
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| row | median | min–max | n | × best peer | × direct | |")
		fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | --- |")
		for _, row := range r.Rows {
			st, ok := r.Get(m.Key, row)
			if !ok {
				why := r.status[row]
				if why == "" {
					why = r.errs[m.Key][row]
				}
				if why == "" {
					continue
				}
				fmt.Fprintf(w, "| %s | – | | | | | %s |\n", row, mdEscape(why))
				continue
			}
			dref := math.NaN()
			if hasDirect {
				dref = direct.Median
			}
			remark := r.notes[m.Key][row]
			if e := r.errs[m.Key][row]; e != "" {
				remark = strings.TrimSpace(remark + " some runs failed: " + e)
			}
			fmt.Fprintf(w, "| %s | %s | %s–%s | %d | %s | %s | %s |\n", row,
				m.Show(st.Median), m.Show(st.Min), m.Show(st.Max), st.N,
				ratio(st.Median, bv), ratio(st.Median, dref), mdEscape(remark))
		}
	}
}

// WriteSummary prints one Markdown matrix: a line per metric, a column per
// row, each cell the median and its ratio to the best peer.
func (r *Results) WriteSummary(w io.Writer) {
	var cols []string
	for _, row := range r.Rows {
		for _, m := range r.Metrics {
			if _, ok := r.Get(m.Key, row); ok {
				cols = append(cols, row)
				break
			}
		}
	}
	if len(cols) == 0 {
		return
	}
	fmt.Fprintf(w, "\n| median (× best peer) | %s |\n", strings.Join(cols, " | "))
	fmt.Fprintf(w, "| --- |%s\n", strings.Repeat(" ---: |", len(cols)))
	for _, m := range r.Metrics {
		bv, _ := r.best(m)
		cells := make([]string, len(cols))
		for i, row := range cols {
			st, ok := r.Get(m.Key, row)
			if !ok {
				cells[i] = "–"
				continue
			}
			cells[i] = m.Show(st.Median)
			if !math.IsNaN(bv) {
				cells[i] += " (" + ratio(st.Median, bv) + ")"
			}
		}
		fmt.Fprintf(w, "| %s, %s | %s |\n", m.Title, m.Unit, strings.Join(cells, " | "))
	}
	for _, row := range r.Rows {
		if s := r.status[row]; s != "" {
			fmt.Fprintf(w, "\n%s: %s\n", row, s)
			continue
		}
		for _, m := range r.Metrics {
			if _, ok := r.Get(m.Key, row); !ok && r.errs[m.Key][row] != "" {
				fmt.Fprintf(w, "\n%s, %s: %s\n", row, m.Title, mdEscape(r.errs[m.Key][row]))
			}
		}
	}
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", "/")
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}
