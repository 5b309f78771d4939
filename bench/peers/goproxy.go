package peers

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// RunStdProxy is the standard-library comparator: one goroutine per
// direction, io.Copy (splice(2) between TCP sockets on Linux), half-close
// passed on with CloseWrite. It serves until the process is killed.
func RunStdProxy(rs []Route) error {
	errc := make(chan error, len(rs))
	for _, r := range rs {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(r.Port))
		if err != nil {
			return err
		}
		go func(l net.Listener, up string) {
			for {
				c, err := l.Accept()
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						continue
					}
					if errors.Is(err, net.ErrClosed) {
						errc <- err
						return
					}
					// EMFILE and the like: back off instead of spinning.
					time.Sleep(10 * time.Millisecond)
					continue
				}
				go stdPipe(c.(*net.TCPConn), up)
			}
		}(l, r.Upstream)
	}
	return <-errc
}

func stdPipe(down *net.TCPConn, upAddr string) {
	defer down.Close()
	c, err := net.DialTimeout("tcp", upAddr, 5*time.Second)
	if err != nil {
		return
	}
	up := c.(*net.TCPConn)
	defer up.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(up, down)
		_ = up.CloseWrite()
	}()
	_, _ = io.Copy(down, up)
	_ = down.CloseWrite()
	wg.Wait()
}

// RunGnetProxy is the gnet comparator: gnet v2's full engine with one event
// loop, both sockets of a pair on that loop, each read written straight to
// the other side (gnet buffers whatever the peer cannot take yet, without
// bound: it has no way to pause reading). It serves until the process is
// killed.
func RunGnetProxy(rs []Route) error {
	h := &gnetProxy{upstream: map[int]net.Addr{}}
	addrs := make([]string, 0, len(rs))
	for _, r := range rs {
		a, err := net.ResolveTCPAddr("tcp", r.Upstream)
		if err != nil {
			return err
		}
		h.upstream[r.Port] = a
		addrs = append(addrs, "tcp://127.0.0.1:"+strconv.Itoa(r.Port))
	}
	return gnet.Rotate(h, addrs,
		gnet.WithNumEventLoop(1),
		gnet.WithMulticore(false),
		gnet.WithReusePort(false),
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(quietLogger{}),
	)
}

type gnetProxy struct {
	gnet.BuiltinEventEngine
	upstream map[int]net.Addr // by listening port
}

// gnetPair links the two sides; it is only touched on the event loop.
type gnetPair struct {
	down, up gnet.Conn
	closed   bool // one side has gone
}

func (h *gnetProxy) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if p, ok := c.Context().(*gnetPair); ok {
		// The upstream side, dialled by Register below, is now on the loop.
		if p.closed {
			return nil, gnet.Close
		}
		p.up = c
		// Whatever the client sent while the dial was in flight.
		if n := p.down.InboundBuffered(); n > 0 {
			buf, _ := p.down.Next(n)
			return append([]byte(nil), buf...), gnet.None
		}
		return nil, gnet.None
	}
	port := c.LocalAddr().(*net.TCPAddr).Port
	up := h.upstream[port]
	if up == nil {
		return nil, gnet.Close
	}
	p := &gnetPair{down: c}
	c.SetContext(p)
	ch, err := c.EventLoop().Register(gnet.NewContext(context.Background(), p), up)
	if err != nil {
		return nil, gnet.Close
	}
	go func() {
		if res := <-ch; res.Err != nil {
			_ = c.Close()
		}
	}()
	return nil, gnet.None
}

func (h *gnetProxy) OnTraffic(c gnet.Conn) gnet.Action {
	p, _ := c.Context().(*gnetPair)
	if p == nil {
		return gnet.Close
	}
	peer := p.up
	if c == p.up {
		peer = p.down
	}
	if peer == nil {
		return gnet.None // upstream not there yet: leave it in the inbound buffer
	}
	buf, _ := c.Next(-1)
	if _, err := peer.Write(buf); err != nil {
		return gnet.Close
	}
	return gnet.None
}

func (h *gnetProxy) OnClose(c gnet.Conn, _ error) gnet.Action {
	p, _ := c.Context().(*gnetPair)
	if p == nil || p.closed {
		return gnet.None
	}
	p.closed = true
	peer := p.up
	if c == p.up {
		peer = p.down
	}
	if peer != nil {
		_ = peer.Close()
	}
	return gnet.None
}

type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(f string, a ...any) {
	log.Printf(f, a...)
}
func (quietLogger) Fatalf(f string, a ...any) { log.Fatalf(f, a...) }
