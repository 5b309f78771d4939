package peers

import (
	"net"
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

// CloseAll closes every connection.
func CloseAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}
