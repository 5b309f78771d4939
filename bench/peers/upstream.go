package peers

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// FloodBytes is what the flood upstream writes into each connection.
const FloodBytes = 256 << 20

// Upstreams is the set of Go servers the memory and L7 tests proxy to.
type Upstreams struct {
	Hold  int // accepts connections and holds them open, reading and discarding
	Flood int // writes FloodBytes into each connection as fast as it can
	HTTP  int // HTTP/1.1 keep-alive, 1 KiB body to every request
	Ctrl  int // one line of counters per connection, then close
}

// FormatUpstreams renders the -upstreams flag of the "upstreams" role.
func FormatUpstreams(u Upstreams) string {
	return fmt.Sprintf("hold=%d,flood=%d,http=%d,ctrl=%d", u.Hold, u.Flood, u.HTTP, u.Ctrl)
}

// ParseUpstreams is the inverse of FormatUpstreams.
func ParseUpstreams(s string) (Upstreams, error) {
	var u Upstreams
	for _, part := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(part, "=")
		n, err := strconv.Atoi(v)
		if err != nil {
			return u, fmt.Errorf("upstreams %q: %w", part, err)
		}
		switch k {
		case "hold":
			u.Hold = n
		case "flood":
			u.Flood = n
		case "http":
			u.HTTP = n
		case "ctrl":
			u.Ctrl = n
		default:
			return u, fmt.Errorf("upstreams: unknown %q", k)
		}
	}
	return u, nil
}

// Counters is what the control port reports.
type Counters struct {
	HoldAccepted int64 // connections the hold server has accepted, ever
	HoldOpen     int64 // of those, still open
	FloodSent    int64 // bytes the flood server has written, all connections
}

type upstreamState struct {
	holdAccepted, holdOpen, floodSent atomic.Int64
}

// RunUpstreams serves every port of u that is not zero, until killed.
func RunUpstreams(u Upstreams) error {
	var st upstreamState
	errc := make(chan error, 4)
	serve := func(port int, handle func(net.Conn)) {
		if port == 0 {
			return
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			errc <- err
			return
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					if errors.Is(err, net.ErrClosed) {
						errc <- err
						return
					}
					time.Sleep(10 * time.Millisecond)
					continue
				}
				go handle(c)
			}
		}()
	}
	serve(u.Hold, func(c net.Conn) {
		st.holdAccepted.Add(1)
		st.holdOpen.Add(1)
		defer st.holdOpen.Add(-1)
		defer c.Close()
		_, _ = io.Copy(io.Discard, c)
	})
	serve(u.Flood, func(c net.Conn) {
		defer c.Close()
		// Bounded in bytes and in time: a proxy that never lets it finish
		// is cut off after a minute.
		_ = c.SetWriteDeadline(time.Now().Add(time.Minute))
		buf := make([]byte, 64<<10)
		for sent := 0; sent < FloodBytes; {
			n, err := c.Write(buf)
			sent += n
			st.floodSent.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	serve(u.HTTP, serveHTTP1K)
	serve(u.Ctrl, func(c net.Conn) {
		defer c.Close()
		fmt.Fprintf(c, "%d %d %d\n", st.holdAccepted.Load(), st.holdOpen.Load(), st.floodSent.Load())
	})
	return <-errc
}

// ReadCounters asks the upstreams' control port for its counters.
func ReadCounters(ctrlPort int) (Counters, error) {
	var c Counters
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(ctrlPort), 2*time.Second)
	if err != nil {
		return c, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return c, err
	}
	_, err = fmt.Sscan(line, &c.HoldAccepted, &c.HoldOpen, &c.FloodSent)
	return c, err
}

var (
	body1K    = strings.Repeat("sluice-bench-1k\n", 64) // 1024 bytes
	resp1K    = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1024\r\n\r\n" + body1K)
	headerEnd = []byte("\r\n\r\n")
)

// serveHTTP1K answers every request on a keep-alive connection with a 1 KiB
// body. It reads heads only (the benchmark sends GETs without bodies) and
// answers pipelined requests in one write.
func serveHTTP1K(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 16<<10)
	var out []byte
	have := 0
	for {
		n, err := c.Read(buf[have:])
		if n == 0 && err != nil {
			return
		}
		have += n
		out = out[:0]
		start := 0
		for {
			i := bytes.Index(buf[start:have], headerEnd)
			if i < 0 {
				break
			}
			start += i + len(headerEnd)
			out = append(out, resp1K...)
		}
		copy(buf, buf[start:have])
		have -= start
		if have == len(buf) {
			return // a head bigger than the buffer: not a benchmark request
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}
