package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Routes that do not change keep answering while others change 100 times a
// second through the Admin API (new uris, creates and deletes, and an
// upstream they do not use): not one request to them fails, over kept-alive
// connections and new ones, and every change reaches the data plane.
func TestUnchangedRoutesServeWhileRoutesChange(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok "+r.URL.Path) }))
	defer web.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "other") }))
	defer other.Close()
	port, adminPort, httpPort := freePort(t), freePort(t), freePort(t)
	cfg := etcdConfHTTP(t, t.TempDir(), port, adminPort,
		fmt.Sprintf("etcd: {embedded: true, data_dir: data/etcd, endpoints: [\"http://127.0.0.1:%d\"]}", freePortPair(t)),
		fmt.Sprintf("%q", fmt.Sprintf("127.0.0.1:%d", httpPort)))
	start(t, cfg, port)
	api := adminClient{t, fmt.Sprintf("http://127.0.0.1:%d", adminPort)}
	addr := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
	api.must("PUT", "/apisix/admin/upstreams/web", fmt.Sprintf(`{"nodes":{%q:1}}`, addr(web)))
	api.must("PUT", "/apisix/admin/upstreams/other", fmt.Sprintf(`{"nodes":{%q:1}}`, addr(other)))
	const steady, churned = 10, 10
	for i := range steady {
		api.must("PUT", fmt.Sprintf("/apisix/admin/routes/s%d", i), fmt.Sprintf(`{"uri":"/steady/%d","upstream_id":"web"}`, i))
	}
	for i := range churned {
		api.must("PUT", fmt.Sprintf("/apisix/admin/routes/c%d", i), fmt.Sprintf(`{"uri":"/churn/%d/0","upstream_id":"other"}`, i))
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	get := func(c *http.Client, path string) (string, error) {
		resp, err := c.Get(base + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return "", fmt.Errorf("%d %s", resp.StatusCode, b)
		}
		return string(b), err
	}
	waitGet := func(path, want string) {
		t.Helper()
		var got string
		var err error
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if got, err = get(http.DefaultClient, path); got == want {
				return
			}
		}
		t.Fatalf("%s never answered %q (last %q, %v)", path, want, got, err)
	}
	waitGet(fmt.Sprintf("/churn/%d/0", churned-1), "other")

	// Changes: 100 a second for 2 s.
	var changes, failedChanges atomic.Int64
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	last := ""
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(stopLoad)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for k := 1; k <= 200; k++ {
			<-tick.C
			i := k % churned
			var st int
			var body string
			switch k % 10 {
			case 3: // an upstream no unchanged route uses
				st, body = api.do("PATCH", "/apisix/admin/upstreams/other", fmt.Sprintf(`{"desc":"change %d"}`, k))
			case 5: // created, and deleted two changes later
				st, body = api.do("PUT", "/apisix/admin/routes/d", fmt.Sprintf(`{"uri":"/d/%d","upstream_id":"other"}`, k))
			case 7:
				st, body = api.do("DELETE", "/apisix/admin/routes/d", "")
			default:
				st, body = api.do("PUT", fmt.Sprintf("/apisix/admin/routes/c%d", i), fmt.Sprintf(`{"uri":"/churn/%d/%d","upstream_id":"other"}`, i, k))
				last = fmt.Sprintf("/churn/%d/%d", i, k)
			}
			if st != 200 && st != 201 {
				failedChanges.Add(1)
				t.Logf("change %d: %d %s", k, st, body)
			}
			changes.Add(1)
		}
	}()

	// Load on the unchanged routes: kept-alive connections and new ones.
	var requests, failed atomic.Int64
	var firstErr atomic.Pointer[string]
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: w == 3}}
			for n := 0; ; n++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				path := fmt.Sprintf("/steady/%d", (n+w)%steady)
				got, err := get(c, path)
				requests.Add(1)
				if err != nil || got != "ok "+path {
					failed.Add(1)
					msg := fmt.Sprintf("%s: %q %v", path, got, err)
					firstErr.CompareAndSwap(nil, &msg)
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d requests to unchanged routes failed while routes changed; first: %s", f, requests.Load(), *firstErr.Load())
	}
	if failedChanges.Load() > 0 {
		t.Fatalf("%d of %d changes were refused", failedChanges.Load(), changes.Load())
	}
	waitGet(last, "other")
	t.Logf("%d requests to unchanged routes, all answered, during %d route changes", requests.Load(), changes.Load())
}
