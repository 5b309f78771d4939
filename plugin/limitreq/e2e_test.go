package limitreq_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
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
	delayed := make(chan answer, 1)
	go func() {
		st := status("/slow")
		delayed <- answer{st, time.Now()}
	}()
	// The delayed request is in the bucket before the third arrives.
	time.Sleep(100 * time.Millisecond)
	if st := status("/slow"); st != 429 {
		t.Errorf("over the burst: %d, want 429", st)
	}
	// The loop serves others while the second request waits.
	if st := status("/fast"); st != 200 {
		t.Errorf("another route: %d", st)
	}
	select {
	case a := <-delayed:
		t.Fatalf("the delayed request finished (%d) before the loop served another: not delayed", a.status)
	default:
	}
	select {
	case a := <-delayed:
		if a.status != 200 {
			t.Errorf("delayed request: %d, want 200", a.status)
		}
		// Its turn is a second after the first request's: never sooner.
		if d := a.at.Sub(first); d < 900*time.Millisecond {
			t.Errorf("delayed request answered %v after the first, want its turn at 1s", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the delayed request never finished")
	}
}
