package core

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// resolvConf is what the resolver takes from /etc/resolv.conf.
type resolvConf struct {
	servers []netip.AddrPort
	search  []string
	ndots   int
}

// readResolvConf reads path as resolv(5) does: nameserver, search (or
// domain) and options ndots. A missing file gives no servers and ndots 1.
func readResolvConf(path string) resolvConf {
	rc := resolvConf{ndots: 1}
	data, err := os.ReadFile(path)
	if err != nil {
		return rc
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if a, err := netip.ParseAddr(f[1]); err == nil && len(rc.servers) < 3 {
				rc.servers = append(rc.servers, netip.AddrPortFrom(a.Unmap(), 53))
			}
		case "domain":
			rc.search = []string{strings.ToLower(strings.TrimSuffix(f[1], "."))}
		case "search":
			rc.search = rc.search[:0]
			for _, s := range f[1:] {
				if s = strings.ToLower(strings.TrimSuffix(s, ".")); s != "" && len(rc.search) < 6 {
					rc.search = append(rc.search, s)
				}
			}
		case "options":
			for _, o := range f[1:] {
				if v, ok := strings.CutPrefix(o, "ndots:"); ok {
					if n, err := strconv.Atoi(v); err == nil && n >= 0 {
						rc.ndots = min(n, 15)
					}
				}
			}
		}
	}
	return rc
}

// parseNameserver reads a dns_resolver entry: "ip", "ip:port" or
// "[ipv6]:port"; the port defaults to 53.
func parseNameserver(s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return netip.AddrPortFrom(a.Unmap(), 53), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("want an IP address, ip:port or [ipv6]:port")
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// candidates are the names to ask for name, in order, as resolv(5)'s
// search and ndots say: a name with at least ndots dots is tried as it is
// first, one with fewer after the search domains; a name ending in a dot
// only as it is.
func (rc *resolvConf) candidates(name string) []string {
	if strings.HasSuffix(name, ".") {
		return []string{name}
	}
	var out []string
	asIs := strings.Count(name, ".") >= rc.ndots
	if asIs {
		out = append(out, name+".")
	}
	for _, s := range rc.search {
		out = append(out, name+"."+s+".")
	}
	if !asIs {
		out = append(out, name+".")
	}
	return out
}

// hostsFile is /etc/hosts, read again when it changes (checked at most
// once a second).
type hostsFile struct {
	path string

	mu      sync.Mutex
	checked time.Time
	mtime   time.Time
	size    int64
	names   map[string][]netip.Addr
}

// lookup returns name's addresses from the hosts file: its IPv4 ones when
// it has any, else its IPv6 ones (node addresses prefer IPv4, as APISIX's
// default dns_order does).
func (h *hostsFile) lookup(name string) ([]netip.Addr, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := time.Now(); now.Sub(h.checked) >= time.Second {
		h.checked = now
		h.reload()
	}
	addrs := h.names[name]
	if len(addrs) == 0 {
		return nil, false
	}
	var v4, v6 []netip.Addr
	for _, a := range addrs {
		if a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	if len(v4) > 0 {
		return v4, true
	}
	return v6, true
}

func (h *hostsFile) reload() {
	st, err := os.Stat(h.path)
	if err != nil {
		h.names, h.size = nil, -1
		return
	}
	if st.ModTime().Equal(h.mtime) && st.Size() == h.size && h.names != nil {
		return
	}
	data, err := os.ReadFile(h.path)
	if err != nil {
		return
	}
	h.mtime, h.size = st.ModTime(), st.Size()
	h.names = map[string][]netip.Addr{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil || a.Zone() != "" {
			continue
		}
		a = a.Unmap()
		for _, n := range f[1:] {
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			if !slices.Contains(h.names[n], a) {
				h.names[n] = append(h.names[n], a)
			}
		}
	}
}

// isLocalhost: RFC 6761 names that resolve to loopback without asking
// anyone, when the hosts file does not say otherwise.
func isLocalhost(name string) bool {
	return name == "localhost" || strings.HasSuffix(name, ".localhost")
}
