package limitconn_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-gateway/sluice/internal/e2e"
	"github.com/sluice-gateway/sluice/plugin"
	"github.com/sluice-gateway/sluice/plugin/limitconn"
)

// Through the real proxy: an HTTP request over the limit while another is
// in flight is refused, and passes once that one is done; the same for
// stream connections, counted from preread to the stream's end.
func TestE2E(t *testing.T) {
	arrived := make(chan struct{}, 4)
	release := make(chan struct{})
	web := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		io.WriteString(w, "done")
	}))
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	n := e2e.Start(t, e2e.Options{Stream: true, Workers: 2, Plugins: []plugin.Def{limitconn.Def}, Routes: fmt.Sprintf(`
routes:
  - {id: one, uri: /one, upstream: {nodes: {%q: 1}}, plugins: {limit-conn: {conn: 1, burst: 0, default_conn_delay: 0.1, key: remote_addr, rejected_code: 429}}}
stream_routes:
  - {id: s, upstream: {nodes: {%q: 1}}, plugins: {limit-conn: {conn: 1, burst: 0, default_conn_delay: 0.1, key: remote_addr}}}
`, web, echo.Addr())})

	t.Run("http", func(t *testing.T) {
		cl := e2e.Client()
		status := func() int {
			resp, err := cl.Get(n.URL + "/one")
			if err != nil {
				t.Error(err)
				return 0
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		first := make(chan int)
		go func() { first <- status() }()
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
			t.Fatal("the first request never reached the upstream")
		}
		if st := status(); st != 429 {
			t.Errorf("second while the first is in flight: %d, want 429", st)
		}
		close(release)
		if st := <-first; st != 200 {
			t.Errorf("first: %d", st)
		}
		// The first's log phase may trail its answer by a moment.
		deadline := time.Now().Add(5 * time.Second)
		for st := status(); st != 200; st = status() {
			if time.Now().After(deadline) {
				t.Fatalf("after the first ended: %d, want 200", st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("stream", func(t *testing.T) {
		// open dials the stream listener and echoes one line: true when the
		// connection was let through.
		open := func() (net.Conn, bool) {
			c, err := net.Dial("tcp", n.StreamAddr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "ping\n")
			b := make([]byte, 5)
			if _, err := io.ReadFull(c, b); err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("refused stream: %v, want closed", err)
				}
				c.Close()
				return nil, false
			}
			return c, true
		}
		a, ok := open()
		if !ok {
			t.Fatal("first stream refused")
		}
		if _, ok := open(); ok {
			t.Error("second stream while the first is open: let through, want closed")
		}
		a.Close()
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, ok := open()
			if ok {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("after the first stream closed, a new one is still refused")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// The page's "Rate Limit by Rules" example through the proxy, as the page
// sends it: seven concurrent requests of one subscription get six 200s
// (one of them delayed) and one 429.
func TestDocRulesThroughProxy(t *testing.T) {
	arrived := make(chan struct{}, 8)
	release := make(chan struct{})
	up := e2e.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	n := e2e.Start(t, e2e.Options{Plugins: []plugin.Def{limitconn.Def}, Routes: `routes: [{
		"id": "limit-conn-rules-route", "uri": "/get",
		"plugins": {"limit-conn": {"rejected_code": 429, "default_conn_delay": 0.1, "policy": "local", "rules": [
			{"key": "${http_x_subscription_id}", "conn": "${http_x_custom_conn ?? 5}", "burst": 1},
			{"key": "${http_x_trial_id}", "conn": 1, "burst": 1}]}},
		"upstream": {"type": "roundrobin", "nodes": {"` + up + `": 1}}}]` + "\n"})
	codes := make(chan int, 7)
	for range 7 {
		go func() {
			rq, _ := http.NewRequest("GET", n.URL+"/get", nil)
			rq.Header.Set("X-Subscription-ID", "sub-123456789")
			res, err := e2e.Client().Do(rq)
			if err != nil {
				codes <- 0
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			codes <- res.StatusCode
		}()
	}
	got := map[int]int{}
	timeout := time.After(10 * time.Second)
	for waiting := 6; waiting > 0; {
		select {
		case <-arrived:
			waiting--
		case c := <-codes:
			got[c]++
		case <-timeout:
			t.Fatalf("only %d requests reached the upstream; answers so far %v", 6-waiting, got)
		}
	}
	close(release)
	for len(got) == 0 || got[200]+got[429]+got[0] < 7 {
		select {
		case c := <-codes:
			got[c]++
		case <-timeout:
			t.Fatalf("answers %v", got)
		}
	}
	if got[200] != 6 || got[429] != 1 {
		t.Errorf("answers %v, want six 200 and one 429", got)
	}
}
