package limitreq_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/keyauth"
	"github.com/sluice-gateway/sluice/plugin/limitreq"
)

// Through the real proxy, on one event loop: a request over the rate is
// delayed until its turn while the loop goes on serving others, and one
// over the burst is rejected.
func TestE2E(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{limitreq.Def}, Workers: 1, Routes: fmt.Sprintf(`
upstreams:
  - {id: up, nodes: {%q: 1}}
routes:
  - {id: slow, uri: /slow, upstream_id: up, plugins: {limit-req: {rate: 1, burst: 1, key: remote_addr, rejected_code: 429}}}
  - {id: fast, uri: /fast, upstream_id: up}
`, up)})
	status := func(path string) int {
		resp, err := e2e.Client().Get(n.URL + path)
		if err != nil {
			t.Error(err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	first := time.Now()
	if st := status("/slow"); st != 200 {
		t.Fatalf("first: %d", st)
	}
	type answer struct {
		status int
		at     time.Time
	}
	// Two more at once: one fits the burst and waits its turn, the other
	// overflows it.
	answers := make(chan answer, 2)
	for range 2 {
		go func() {
			st := status("/slow")
			answers <- answer{st, time.Now()}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	// The loop serves others while one waits.
	if st := status("/fast"); st != 200 {
		t.Errorf("another route: %d", st)
	}
	servedFast := time.Now()
	var got []answer
	for range 2 {
		select {
		case a := <-answers:
			got = append(got, a)
		case <-time.After(10 * time.Second):
			t.Fatal("a request never finished")
		}
	}
	if got[0].status == 200 {
		got[0], got[1] = got[1], got[0]
	}
	if got[0].status != 429 || got[1].status != 200 {
		t.Fatalf("statuses %d and %d, want one 429 and one 200", got[0].status, got[1].status)
	}
	delayed := got[1]
	if delayed.at.Before(servedFast) {
		t.Errorf("the delayed request finished before the loop served another: not delayed")
	}
	// Its turn is a second after the first request's: never sooner.
	if d := delayed.at.Sub(first); d < 900*time.Millisecond {
		t.Errorf("delayed request answered %v after the first, want its turn at 1s", d)
	}
}

// The page's "Apply Rate Limiting by Remote Address and Consumer Name"
// through the proxy, as the page sends it (consumers with key-auth keys
// in place of the credentials resource): each consumer gets its request
// within the second, more are refused.
func TestDocConsumerExampleThroughProxy(t *testing.T) {
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{limitreq.Def, keyauth.Def}, Routes: `
consumers:
  - {"username": "john", "plugins": {"key-auth": {"key": "john-key"}}}
  - {"username": "jane", "plugins": {"key-auth": {"key": "jane-key"}}}
routes:
  - {"id": "limit-req-route", "uri": "/get", "plugins": {"key-auth": {}, "limit-req": {"rate": 1, "burst": 0,
      "key": "$remote_addr $consumer_name", "key_type": "var_combination", "rejected_code": 429, "policy": "local"}},
     "upstream": {"type": "roundrobin", "nodes": {"` + up + `": 1}}}
`})
	status := func(key string) int {
		rq, _ := http.NewRequest("GET", n.URL+"/get", nil)
		rq.Header.Set("apikey", key)
		res, err := e2e.Client().Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	// Four requests within one second; a loaded machine that stretches
	// them past it gets another try.
	for attempt := 0; ; attempt++ {
		start := time.Now()
		got := []int{status("jane-key"), status("john-key"), status("jane-key"), status("john-key")}
		if time.Since(start) < 900*time.Millisecond {
			if fmt.Sprint(got) != "[200 200 429 429]" {
				t.Errorf("jane, john, jane, john: %v", got)
			}
			return
		}
		if attempt == 3 {
			t.Fatal("four requests never fit in a second")
		}
		time.Sleep(2 * time.Second)
	}
}
