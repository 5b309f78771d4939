package peers

import (
	"testing"
	"time"
)

func TestParseIperf3(t *testing.T) {
	out := []byte(`{"start":{},"intervals":[],"end":{
		"sum_sent":{"bytes":1,"bits_per_second":29280812955.78},
		"sum_received":{"bytes":1,"bits_per_second":29279642006.63}}}`)
	got, err := ParseIperf3(out)
	if err != nil || got != 29279642006.63 {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := ParseIperf3([]byte(`{"error":"unable to connect to server"}`)); err == nil {
		t.Fatal("want the error iperf3 reported")
	}
	if _, err := ParseIperf3([]byte(`not json`)); err == nil {
		t.Fatal("want an error for non-JSON")
	}
}

func TestParseRedisCSV(t *testing.T) {
	out := []byte(`"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","96618.36","0.325","0.112","0.295","0.527","0.759","1.039"
"GET","90909.09","0.317","0.112","0.287","0.527","0.783","1.647"
`)
	got, err := ParseRedisCSV(out)
	if err != nil {
		t.Fatal(err)
	}
	if got["SET"] != 96618.36 || got["GET"] != 90909.09 || len(got) != 2 {
		t.Fatalf("got %v", got)
	}
	if _, err := ParseRedisCSV([]byte("")); err == nil {
		t.Fatal("want an error for empty output")
	}
}

func TestParseWrk(t *testing.T) {
	out := []byte(`Running 1s test @ http://127.0.0.1:18080/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   100.44us   77.72us   2.65ms   98.24%
    Req/Sec    89.48k     5.00k   95.62k    72.73%
  Latency Distribution
     50%   98.00us
     75%  106.00us
     90%  118.00us
     99%    1.25ms
  97616 requests in 1.10s, 14.15MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:  88725.04
Transfer/sec:     12.86MB
`)
	w, err := ParseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	want := Wrk{RPS: 88725.04, Requests: 97616, P50: 98 * time.Microsecond,
		P99: 1250 * time.Microsecond, Non2xx: 7, Errors: 6}
	if w != want {
		t.Fatalf("got %+v\nwant %+v", w, want)
	}
	if _, err := ParseWrk([]byte("unable to connect to 127.0.0.1:1 Connection refused\n")); err == nil {
		t.Fatal("want an error when wrk printed no results")
	}
}
