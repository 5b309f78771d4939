package peers

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ParseIperf3 returns the receiver's throughput, in bits per second, from the
// output of `iperf3 -c … -J`.
func ParseIperf3(out []byte) (float64, error) {
	var r struct {
		Error string `json:"error"`
		End   struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, fmt.Errorf("iperf3 json: %w", err)
	}
	if r.Error != "" {
		return 0, fmt.Errorf("iperf3: %s", r.Error)
	}
	if r.End.SumReceived.BitsPerSecond <= 0 {
		return 0, errors.New("iperf3: no sum_received.bits_per_second")
	}
	return r.End.SumReceived.BitsPerSecond, nil
}

// ParseRedisCSV returns requests per second by test name ("SET", "GET") from
// the output of `redis-benchmark --csv`.
func ParseRedisCSV(out []byte) (map[string]float64, error) {
	rd := csv.NewReader(strings.NewReader(string(out)))
	rd.FieldsPerRecord = -1
	recs, err := rd.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark csv: %w", err)
	}
	res := map[string]float64{}
	for _, rec := range recs {
		if len(rec) < 2 || rec[0] == "test" {
			continue
		}
		v, err := strconv.ParseFloat(rec[1], 64)
		if err != nil {
			return nil, fmt.Errorf("redis-benchmark csv: %q: %w", rec[1], err)
		}
		res[strings.ToUpper(rec[0])] = v
	}
	if len(res) == 0 {
		return nil, errors.New("redis-benchmark csv: no results")
	}
	return res, nil
}

// Wrk is what a `wrk --latency` run reports.
type Wrk struct {
	RPS      float64
	Requests int64
	P50, P99 time.Duration
	Non2xx   int64 // "Non-2xx or 3xx responses"
	Errors   int64 // socket errors: connect+read+write+timeout
}

var (
	wrkRPS      = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkReqs     = regexp.MustCompile(`(?m)^\s*([0-9]+) requests in`)
	wrkPct      = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.0+)?%\s+([0-9.]+)(us|ms|s|m)\s*$`)
	wrkNon2xx   = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses:\s+([0-9]+)`)
	wrkSockErrs = regexp.MustCompile(`(?m)^\s*Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)`)
)

// ParseWrk reads the text wrk prints with --latency.
func ParseWrk(out []byte) (Wrk, error) {
	var w Wrk
	s := string(out)
	m := wrkRPS.FindStringSubmatch(s)
	if m == nil {
		return w, errors.New("wrk: no Requests/sec line")
	}
	w.RPS, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkReqs.FindStringSubmatch(s); m != nil {
		w.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	for _, m := range wrkPct.FindAllStringSubmatch(s, -1) {
		d, err := wrkDuration(m[2], m[3])
		if err != nil {
			return w, err
		}
		if m[1] == "50" {
			w.P50 = d
		} else {
			w.P99 = d
		}
	}
	if w.P50 == 0 || w.P99 == 0 {
		return w, errors.New("wrk: no latency distribution (run with --latency)")
	}
	if m := wrkNon2xx.FindStringSubmatch(s); m != nil {
		w.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := wrkSockErrs.FindStringSubmatch(s); m != nil {
		for _, x := range m[1:] {
			n, _ := strconv.ParseInt(x, 10, 64)
			w.Errors += n
		}
	}
	return w, nil
}

func wrkDuration(num, unit string) (time.Duration, error) {
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("wrk: latency %q: %w", num, err)
	}
	scale := map[string]float64{"us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9}[unit]
	return time.Duration(v * scale), nil
}
