package l4

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// named runs an upstream that writes its name and a newline, and then
// waits for the client to close.
func named(t *testing.T, name string) string {
	return upstream(t, func(c *net.TCPConn) {
		io.WriteString(c, name+"\n")
		io.Copy(io.Discard, c)
	})
}

// ask connects through the proxy, from local when it is set, and returns
// the name of the node that answered.
func ask(t *testing.T, addr string, local net.IP) string {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(line, "\n")
}

// Weighted round-robin over real nodes: with one loop, every period of
// Σweight connections gives each node exactly its weight.
func TestRoundRobinWeights(t *testing.T) {
	a, b, c := named(t, "a"), named(t, "b"), named(t, "c")
	p := startProxy(t, fmt.Sprintf("stream_routes: [{id: w, upstream: {type: roundrobin, nodes: {%q: 1, %q: 2, %q: 3}}}]\n", a, b, c),
		"workers: 1\n")
	count := map[string]int{}
	for range 60 {
		count[ask(t, p.addr, nil)]++
	}
	if count["a"] != 10 || count["b"] != 20 || count["c"] != 30 {
		t.Errorf("60 connections over weights 1,2,3 went %v", count)
	}
	// Two loops: each walks the schedule from its own point, so a node is
	// off its share by at most a pick or two per loop.
	p = startProxy(t, fmt.Sprintf("stream_routes: [{id: w, upstream: {type: roundrobin, nodes: {%q: 1, %q: 2, %q: 3}}}]\n", a, b, c), "")
	count = map[string]int{}
	for range 120 {
		count[ask(t, p.addr, nil)]++
	}
	for name, want := range map[string]int{"a": 20, "b": 40, "c": 60} {
		if d := count[name] - want; d < -3 || d > 3 {
			t.Errorf("120 connections on two loops over weights 1,2,3 went %v", count)
		}
	}
}

// chash on a stream hashes the client address: a client keeps its node, and
// different clients spread over the nodes.
func TestCHashByClientAddress(t *testing.T) {
	var list []string
	for i := range 4 {
		up := named(t, fmt.Sprint("n", i))
		list = append(list, fmt.Sprintf("%q: 1", up))
	}
	p := startProxy(t, "stream_routes: [{id: h, upstream: {type: chash, key: remote_addr, nodes: {"+strings.Join(list, ", ")+"}}}]\n", "")
	seen := map[string]bool{}
	for i := 1; i <= 24; i++ {
		ip := net.IPv4(127, 0, 0, byte(i))
		first := ask(t, p.addr, ip)
		for range 3 {
			if got := ask(t, p.addr, ip); got != first {
				t.Fatalf("client %s went to %s, then %s", ip, first, got)
			}
		}
		seen[first] = true
	}
	if len(seen) < 3 {
		t.Errorf("24 client addresses used only nodes %v", seen)
	}
}

// least_conn over streams: a node holding a long session is passed over
// while another is idle. (A session ends in the proxy a moment after the
// client closes, hence the pauses.)
func TestLeastConnStreams(t *testing.T) {
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	slow := upstream(t, func(c *net.TCPConn) { io.WriteString(c, "slow\n"); <-hold })
	fast := named(t, "fast")
	p := startProxy(t, fmt.Sprintf("stream_routes: [{id: l, upstream: {type: least_conn, nodes: {%q: 1, %q: 1}}}]\n", slow, fast), "workers: 1\n")
	held := 0
	for range 10 {
		c := dial(t, p.addr)
		line, _ := bufio.NewReader(c).ReadString('\n')
		if line == "slow\n" {
			held++
			break
		}
		c.Close()
		time.Sleep(50 * time.Millisecond) // let the proxy end that session
	}
	if held == 0 {
		t.Fatal("sessions did not reach the slow node")
	}
	for range 10 {
		if got := ask(t, p.addr, nil); got != "fast" {
			t.Fatalf("with a session held on the slow node, a new one went to %q", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
