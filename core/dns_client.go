package core

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// DNS lookup errors.
var (
	// ErrNoSuchHost: the name does not exist (NXDOMAIN) or has no A or
	// AAAA records.
	ErrNoSuchHost = errors.New("core: no such host")
	// errBadAnswer: an answer that does not belong to the question.
	errBadAnswer = errors.New("core: DNS answer does not match the query")
)

// dnsClient asks nameservers for A and AAAA records: UDP first, TCP when the
// answer comes back truncated, each server in turn until one answers.
type dnsClient struct {
	servers []netip.AddrPort
	timeout time.Duration // for one lookup of one record type, over all servers
}

// udpPayload is the EDNS0 buffer size offered: the DNS flag day's value,
// safe from IP fragmentation; bigger answers come over TCP.
const udpPayload = 1232

// lookup resolves one fully qualified name (ending in a dot): its IPv4
// addresses, or its IPv6 ones when it has no IPv4 address, with the
// smallest TTL of the records used.
func (c *dnsClient) lookup(fqdn string) ([]netip.Addr, time.Duration, error) {
	name, err := dnsmessage.NewName(fqdn)
	if err != nil {
		return nil, 0, fmt.Errorf("%q: %v", fqdn, err)
	}
	addrs, ttl, err := c.ask(name, dnsmessage.TypeA)
	if err != nil || len(addrs) > 0 {
		return addrs, ttl, err
	}
	addrs, ttl, err = c.ask(name, dnsmessage.TypeAAAA)
	if err == nil && len(addrs) == 0 {
		err = ErrNoSuchHost
	}
	return addrs, ttl, err
}

// ask puts one question to the servers in turn, each with an equal share
// of what is left of the time budget, until one answers (NXDOMAIN is an
// answer).
func (c *dnsClient) ask(name dnsmessage.Name, typ dnsmessage.Type) ([]netip.Addr, time.Duration, error) {
	if len(c.servers) == 0 {
		return nil, 0, errors.New("no nameserver (dns_resolver, /etc/resolv.conf)")
	}
	q := dnsmessage.Question{Name: name, Type: typ, Class: dnsmessage.ClassINET}
	deadline := time.Now().Add(c.timeout)
	var last error
	for i, srv := range c.servers {
		share := time.Until(deadline) / time.Duration(len(c.servers)-i)
		addrs, ttl, err := c.exchange(srv, q, time.Now().Add(share))
		if err == nil || errors.Is(err, ErrNoSuchHost) {
			return addrs, ttl, err
		}
		last = fmt.Errorf("%s: %w", srv, err)
	}
	return nil, 0, last
}

// exchange asks one server over UDP, and over TCP when the UDP answer is
// truncated.
func (c *dnsClient) exchange(srv netip.AddrPort, q dnsmessage.Question, deadline time.Time) ([]netip.Addr, time.Duration, error) {
	id := uint16(rand.Uint32())
	msg, err := buildQuery(id, q)
	if err != nil {
		return nil, 0, err
	}
	ans, err := queryUDP(srv, msg[2:], id, q, deadline)
	if err != nil {
		return nil, 0, err
	}
	addrs, ttl, truncated, err := parseAnswer(ans, id, q)
	if truncated {
		if ans, err = queryTCP(srv, msg, deadline); err != nil {
			return nil, 0, fmt.Errorf("over TCP after a truncated UDP answer: %w", err)
		}
		addrs, ttl, _, err = parseAnswer(ans, id, q)
	}
	return addrs, ttl, err
}

// buildQuery makes a recursive query for q with an EDNS0 record, after two
// bytes left for TCP's length prefix.
func buildQuery(id uint16, q dnsmessage.Question) ([]byte, error) {
	b := dnsmessage.NewBuilder(make([]byte, 2, 514), dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAdditionals(); err != nil {
		return nil, err
	}
	var rh dnsmessage.ResourceHeader
	if err := rh.SetEDNS0(udpPayload, dnsmessage.RCodeSuccess, false); err != nil {
		return nil, err
	}
	if err := b.OPTResource(rh, dnsmessage.OPTResource{}); err != nil {
		return nil, err
	}
	msg, err := b.Finish()
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint16(msg, uint16(len(msg)-2))
	return msg, nil
}

// queryUDP sends query from a fresh socket (a fresh source port) and waits
// for the answer with id, ignoring stray datagrams.
func queryUDP(srv netip.AddrPort, query []byte, id uint16, q dnsmessage.Question, deadline time.Time) ([]byte, error) {
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(srv))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	if _, err := conn.Write(query); err != nil {
		return nil, err
	}
	buf := make([]byte, udpPayload)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil || h.ID != id || !h.Response {
			continue
		}
		if got, err := p.Question(); err != nil || !sameQuestion(got, q) {
			continue
		}
		return buf[:n], nil
	}
}

// queryTCP sends msg (with its length prefix) over a TCP connection and
// reads one answer.
func queryTCP(srv netip.AddrPort, msg []byte, deadline time.Time) ([]byte, error) {
	d := net.Dialer{Deadline: deadline}
	conn, err := d.Dial("tcp", srv.String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, err
	}
	ans := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, ans); err != nil {
		return nil, err
	}
	return ans, nil
}

func sameQuestion(a, b dnsmessage.Question) bool {
	return a.Type == b.Type && a.Class == b.Class && strings.EqualFold(a.Name.String(), b.Name.String())
}

// parseAnswer reads the addresses of q's type from an answer, following
// the CNAME chain from q's name, with the smallest TTL along the way.
func parseAnswer(msg []byte, id uint16, q dnsmessage.Question) (addrs []netip.Addr, ttl time.Duration, truncated bool, err error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, 0, false, err
	}
	if h.ID != id || !h.Response {
		return nil, 0, false, errBadAnswer
	}
	if h.Truncated {
		return nil, 0, true, nil
	}
	got, err := p.Question()
	if err != nil || !sameQuestion(got, q) {
		return nil, 0, false, errBadAnswer
	}
	if err := p.SkipAllQuestions(); err != nil {
		return nil, 0, false, err
	}
	switch h.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return nil, 0, false, ErrNoSuchHost
	default:
		return nil, 0, false, fmt.Errorf("server answered %v", h.RCode)
	}
	type rec struct {
		owner, target string // target: a CNAME's
		addr          netip.Addr
		ttl           uint32
	}
	var recs []rec
	for {
		rh, err := p.AnswerHeader()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			return nil, 0, false, err
		}
		r := rec{owner: strings.ToLower(rh.Name.String()), ttl: rh.TTL}
		switch {
		case rh.Type == dnsmessage.TypeCNAME:
			c, err := p.CNAMEResource()
			if err != nil {
				return nil, 0, false, err
			}
			r.target = strings.ToLower(c.CNAME.String())
		case rh.Type == dnsmessage.TypeA && q.Type == dnsmessage.TypeA:
			a, err := p.AResource()
			if err != nil {
				return nil, 0, false, err
			}
			r.addr = netip.AddrFrom4(a.A)
		case rh.Type == dnsmessage.TypeAAAA && q.Type == dnsmessage.TypeAAAA:
			a, err := p.AAAAResource()
			if err != nil {
				return nil, 0, false, err
			}
			r.addr = netip.AddrFrom16(a.AAAA).Unmap()
		default:
			if err := p.SkipAnswer(); err != nil {
				return nil, 0, false, err
			}
			continue
		}
		recs = append(recs, r)
	}
	// Follow the chain: q's name, then each CNAME target in turn (bounded,
	// so a loop of CNAMEs ends).
	name := strings.ToLower(q.Name.String())
	low := uint32(1<<32 - 1)
	for hops := 0; hops < 8; hops++ {
		next := ""
		for _, r := range recs {
			if r.owner != name {
				continue
			}
			switch {
			case r.target != "":
				next = r.target
				low = minTTL(low, r.ttl)
			case r.addr.IsValid() && !slices.Contains(addrs, r.addr):
				addrs = append(addrs, r.addr)
				low = minTTL(low, r.ttl)
			}
		}
		if len(addrs) > 0 || next == "" {
			break
		}
		name = next
	}
	if len(addrs) == 0 {
		return nil, 0, false, nil
	}
	return addrs, time.Duration(low) * time.Second, false, nil
}

func minTTL(a, b uint32) uint32 {
	if b < a {
		return b
	}
	return a
}
