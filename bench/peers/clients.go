package peers

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

var (
	usedMu sync.Mutex
	used   = map[int]bool{} // ports FreePorts has handed out
)

// OpenIdle opens up to n TCP connections to addr, parallel at a time, and
// returns those that were established. It gives up after budget, or once 100
// dials have failed.
func OpenIdle(addr string, n, parallel int, budget time.Duration) ([]net.Conn, error) {
	deadline := time.Now().Add(budget)
	var (
		mu    sync.Mutex
		conns = make([]net.Conn, 0, n)
		fails int
		last  error
		next  int
		wg    sync.WaitGroup
	)
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= n || fails >= 100 || time.Now().After(deadline) {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				mu.Lock()
				if err != nil {
					fails++
					last = err
				} else {
					conns = append(conns, c)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(conns) < n && last != nil {
		return conns, last
	}
	return conns, nil
}

// OpenIdleHTTP opens up to n connections to the HTTP proxy at addr, makes
// one keep-alive GET on each and reads the whole response, and returns the
// connections whose request got a 200. Bounds as OpenIdle.
func OpenIdleHTTP(addr string, n, parallel int, budget time.Duration) ([]net.Conn, error) {
	deadline := time.Now().Add(budget)
	var (
		mu    sync.Mutex
		conns = make([]net.Conn, 0, n)
		fails int
		last  error
		next  int
		wg    sync.WaitGroup
	)
	get := func() (net.Conn, error) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return nil, err
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
			c.Close()
			return nil, err
		}
		resp, err := http.ReadResponse(bufio.NewReaderSize(c, 2048), nil)
		if err != nil {
			c.Close()
			return nil, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if err == nil && resp.Close {
			err = errors.New("the proxy closes the connection after a response")
		}
		if err != nil {
			c.Close()
			return nil, err
		}
		_ = c.SetDeadline(time.Time{})
		return c, nil
	}
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= n || fails >= 100 || time.Now().After(deadline) {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				c, err := get()
				mu.Lock()
				if err != nil {
					fails++
					last = err
				} else {
					conns = append(conns, c)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(conns) < n && last != nil {
		return conns, last
	}
	return conns, nil
}

// CloseAll closes every connection.
func CloseAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}
