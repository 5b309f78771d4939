package testnet

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// DNSServer is an authoritative DNS server for tests, on 127.0.0.1 over UDP
// and TCP (the same port): it answers A and AAAA questions from its
// records, NXDOMAIN for names it has none for, and CNAMEs it was given.
type DNSServer struct {
	// Addr is where it listens ("127.0.0.1:port", UDP and TCP).
	Addr string

	mu       sync.Mutex
	records  map[string]dnsRecord // by lower-case name with the final dot
	truncate bool                 // answer UDP with TC set and nothing else
	udp      *net.UDPConn
	tcp      net.Listener
	stopped  bool
	// Queries counts the questions answered, over both transports;
	// TCPQueries those over TCP.
	Queries, TCPQueries atomic.Int64
}

type dnsRecord struct {
	addrs []netip.Addr
	cname string
	ttl   uint32
}

// ServeDNS starts a DNS server on a free 127.0.0.1 port, stopped when the
// test ends.
func ServeDNS(t testing.TB) *DNSServer {
	t.Helper()
	var s *DNSServer
	for range 20 {
		udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		tcp, err := net.Listen("tcp", udp.LocalAddr().String())
		if err != nil {
			udp.Close() // the TCP port is taken: try another
			continue
		}
		s = &DNSServer{Addr: udp.LocalAddr().String(), records: map[string]dnsRecord{}, udp: udp, tcp: tcp}
		break
	}
	if s == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	go s.serveUDP()
	go s.serveTCP()
	t.Cleanup(s.Stop)
	return s
}

// Set makes name answer with addrs (IPv4 ones for A, IPv6 ones for AAAA)
// and ttl seconds; no addrs removes the name.
func (s *DNSServer) Set(name string, ttl uint32, addrs ...string) {
	r := dnsRecord{ttl: ttl}
	for _, a := range addrs {
		r.addrs = append(r.addrs, netip.MustParseAddr(a))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(addrs) == 0 {
		delete(s.records, fqdn(name))
		return
	}
	s.records[fqdn(name)] = r
}

// SetCNAME makes name an alias of target.
func (s *DNSServer) SetCNAME(name, target string, ttl uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[fqdn(name)] = dnsRecord{cname: fqdn(target), ttl: ttl}
}

// TruncateUDP makes every UDP answer empty and truncated, so clients must
// ask again over TCP.
func (s *DNSServer) TruncateUDP(on bool) {
	s.mu.Lock()
	s.truncate = on
	s.mu.Unlock()
}

// Stop closes both sockets: from then on UDP questions meet a closed port.
func (s *DNSServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.stopped = true
		s.udp.Close()
		s.tcp.Close()
	}
}

func fqdn(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

func (s *DNSServer) serveUDP() {
	buf := make([]byte, 4096)
	for {
		n, from, err := s.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		s.mu.Lock()
		trunc := s.truncate
		s.mu.Unlock()
		if out := s.answer(buf[:n], trunc); out != nil {
			s.udp.WriteToUDPAddrPort(out, from)
		}
	}
}

func (s *DNSServer) serveTCP() {
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			var l [2]byte
			for {
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, q); err != nil {
					return
				}
				s.TCPQueries.Add(1)
				out := s.answer(q, false)
				if out == nil {
					return
				}
				binary.BigEndian.PutUint16(l[:], uint16(len(out)))
				if _, err := c.Write(append(l[:], out...)); err != nil {
					return
				}
			}
		}()
	}
}

// answer builds the response to query (nil: not a query to answer).
func (s *DNSServer) answer(query []byte, truncate bool) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	s.Queries.Add(1)
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	b := dnsmessage.NewBuilder(nil, rh)
	if truncate {
		rh.Truncated = true
		b = dnsmessage.NewBuilder(nil, rh)
		b.StartQuestions()
		b.Question(q)
		out, _ := b.Finish()
		return out
	}
	s.mu.Lock()
	name := strings.ToLower(q.Name.String())
	var chain []dnsmessage.Resource
	rec, ok := s.records[name]
	for hops := 0; ok && rec.cname != "" && hops < 8; hops++ {
		target := dnsmessage.MustNewName(rec.cname)
		chain = append(chain, dnsmessage.Resource{
			Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeCNAME, Class: dnsmessage.ClassINET, TTL: rec.ttl},
			Body:   &dnsmessage.CNAMEResource{CNAME: target},
		})
		name = rec.cname
		rec, ok = s.records[name]
	}
	s.mu.Unlock()
	if !ok && len(chain) == 0 {
		rh.RCode = dnsmessage.RCodeNameError
		b = dnsmessage.NewBuilder(nil, rh)
	}
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	for _, r := range chain {
		b.CNAMEResource(r.Header, *r.Body.(*dnsmessage.CNAMEResource))
	}
	if ok {
		for _, a := range rec.addrs {
			hdr := dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Class: dnsmessage.ClassINET, TTL: rec.ttl}
			switch {
			case q.Type == dnsmessage.TypeA && a.Is4():
				hdr.Type = dnsmessage.TypeA
				b.AResource(hdr, dnsmessage.AResource{A: a.As4()})
			case q.Type == dnsmessage.TypeAAAA && a.Is6():
				hdr.Type = dnsmessage.TypeAAAA
				b.AAAAResource(hdr, dnsmessage.AAAAResource{AAAA: a.As16()})
			}
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}
