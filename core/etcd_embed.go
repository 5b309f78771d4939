package core

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// EtcdMember is one etcd server run inside this process: the default store
// (a single member in etcd.data_dir) and, in tests, the members of a
// loopback cluster.
type EtcdMember struct {
	e *embed.Etcd
	// Endpoint is the client URL, http://127.0.0.1:port.
	Endpoint string
	closing  *atomic.Bool
}

// EtcdMemberConfig says where a member keeps its data and listens.
type EtcdMemberConfig struct {
	Name string
	Dir  string
	// Client and Peer are http://ip:port URLs; both must be loopback.
	Client, Peer string
	// AdvertiseClient and AdvertisePeer, when set, are the URLs the member
	// gives out instead (tests put a proxy there); loopback too.
	AdvertiseClient, AdvertisePeer string
	// Cluster is the initial cluster ("a=http://…,b=http://…"); empty for a
	// single member. Ignored when Dir already holds a member.
	Cluster string
	// LogLevel is etcd's own (zap) level; default "error".
	LogLevel string
	// UnsafeNoFsync skips fsync of etcd's write-ahead log and database
	// (etcd's --unsafe-no-fsync): see StartEtcdMember.
	UnsafeNoFsync bool
}

// DefaultEmbeddedClient is where the embedded etcd listens for clients when
// etcd.endpoints does not say; its peer URL is the next port.
const DefaultEmbeddedClient = "http://127.0.0.1:2379"

// StartEtcdMember starts a member and waits until it serves (or 60 s).
func StartEtcdMember(mc EtcdMemberConfig) (*EtcdMember, error) {
	cu, err := loopbackURL(mc.Client)
	if err != nil {
		return nil, fmt.Errorf("etcd client URL: %w", err)
	}
	pu, err := loopbackURL(mc.Peer)
	if err != nil {
		return nil, fmt.Errorf("etcd peer URL: %w", err)
	}
	acu, apu := cu, pu
	if mc.AdvertiseClient != "" {
		if acu, err = loopbackURL(mc.AdvertiseClient); err != nil {
			return nil, fmt.Errorf("etcd advertised client URL: %w", err)
		}
	}
	if mc.AdvertisePeer != "" {
		if apu, err = loopbackURL(mc.AdvertisePeer); err != nil {
			return nil, fmt.Errorf("etcd advertised peer URL: %w", err)
		}
	}
	if err := os.MkdirAll(mc.Dir, 0o700); err != nil {
		return nil, err
	}
	c := embed.NewConfig()
	c.Name = mc.Name
	if c.Name == "" {
		c.Name = "sluice"
	}
	c.Dir = mc.Dir
	c.ListenClientUrls = []url.URL{*cu}
	c.AdvertiseClientUrls = []url.URL{*acu}
	c.ListenPeerUrls = []url.URL{*pu}
	c.AdvertisePeerUrls = []url.URL{*apu}
	c.InitialCluster = mc.Cluster
	if c.InitialCluster == "" {
		c.InitialCluster = c.Name + "=" + apu.String()
	}
	c.InitialClusterToken = "sluice"
	lvl := zapcore.ErrorLevel
	if mc.LogLevel != "" {
		if err := lvl.UnmarshalText([]byte(mc.LogLevel)); err != nil {
			return nil, fmt.Errorf("etcd log level: %w", err)
		}
	}
	closing := new(atomic.Bool)
	zc := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.Lock(os.Stderr), lvl)
	c.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(quietCore{zc, closing}))
	// Resources are rewritten, never appended to: keep an hour of history
	// for watchers that reconnect, and no more.
	c.AutoCompactionMode = "periodic"
	c.AutoCompactionRetention = "1h"
	// Opt-in (etcd.unsafe_no_fsync): writes are acknowledged before they
	// reach the disk. A crash of the process loses nothing (the kernel has
	// the data); a crash of the machine or a power cut may lose the last
	// writes or leave a data directory etcd refuses to start from.
	c.UnsafeNoFsync = mc.UnsafeNoFsync
	e, err := embed.StartEtcd(c)
	if err != nil {
		return nil, fmt.Errorf("starting etcd in %s: %w", mc.Dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd in %s: %w", mc.Dir, err)
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("etcd in %s did not become ready in 60 s", mc.Dir)
	}
	return &EtcdMember{e: e, Endpoint: cu.String(), closing: closing}, nil
}

// Client is a client of this member that calls its server in-process
// (etcd's v3client): no gRPC over loopback, no HTTP/2 framing, no
// marshalling of requests and answers, no socket round trip. The Admin
// API's writes and the watch of the embedded member go through it; the
// client URL (Endpoint) still serves every other client.
func (m *EtcdMember) Client() *clientv3.Client { return v3client.New(m.e.Server) }

// Close stops the member.
func (m *EtcdMember) Close() {
	m.closing.Store(true)
	m.e.Close()
}

// quietCore drops etcd's log lines once the member is being closed: its
// listeners report their own closing as errors.
type quietCore struct {
	zapcore.Core
	closing *atomic.Bool
}

func (q quietCore) With(f []zapcore.Field) zapcore.Core { return quietCore{q.Core.With(f), q.closing} }

func (q quietCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if q.closing.Load() {
		return ce
	}
	return q.Core.Check(e, ce)
}

func loopbackURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("%q: want http://127.0.0.1:port", s)
	}
	host, _, err := net.SplitHostPort(u.Host)
	if err != nil {
		return nil, fmt.Errorf("%q: %v", s, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%q: the embedded etcd listens on loopback only", s)
	}
	return u, nil
}

// EmbeddedPeerURL is the peer URL of the embedded member for a client URL:
// the same loopback address, next port.
func EmbeddedPeerURL(client string) (string, error) {
	u, err := loopbackURL(client)
	if err != nil {
		return "", err
	}
	host, port, _ := net.SplitHostPort(u.Host)
	var p int
	if _, err := fmt.Sscanf(port, "%d", &p); err != nil || p < 1 || p > 65534 {
		return "", fmt.Errorf("%q: bad port", client)
	}
	return fmt.Sprintf("http://%s", net.JoinHostPort(host, fmt.Sprint(p+1))), nil
}

// Client timeouts: a connection to a member that stops answering (frozen,
// partitioned) is dropped by keepalive within EtcdKeepAliveTime +
// EtcdKeepAliveTimeout, and the member left for the others. gRPC pings no
// more often than every 10 s whatever is asked; the etcd provider's watch
// notices sooner (watchCheck, watchStuck in etcd_provider.go).
const (
	EtcdDialTimeout      = 5 * time.Second
	EtcdKeepAliveTime    = 10 * time.Second
	EtcdKeepAliveTimeout = 3 * time.Second
)

// NewEtcdClient connects to endpoints with the credentials and TLS settings
// of cfg.Etcd. It does not wait for a connection: a client made while etcd
// is down works once etcd is back.
func NewEtcdClient(cfg *Config, endpoints []string) (*clientv3.Client, error) {
	cc := clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          EtcdDialTimeout,
		DialKeepAliveTime:    EtcdKeepAliveTime,
		DialKeepAliveTimeout: EtcdKeepAliveTimeout,
		PermitWithoutStream:  true,
		Username:             cfg.Etcd.User,
		Password:             cfg.Etcd.Password,
		Logger:               zap.NewNop(),
	}
	t := cfg.Etcd.TLS
	if t.Cert != "" || t.CA != "" || t.SNI != "" || anyHTTPS(endpoints) {
		tc := &tls.Config{ServerName: t.SNI, InsecureSkipVerify: t.Verify != nil && !*t.Verify}
		if t.Cert != "" {
			pair, err := tls.LoadX509KeyPair(cfg.Resolve(t.Cert), cfg.Resolve(t.Key))
			if err != nil {
				return nil, fmt.Errorf("etcd.tls: %w", err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		if t.CA != "" {
			pem, err := os.ReadFile(cfg.Resolve(t.CA))
			if err != nil {
				return nil, fmt.Errorf("etcd.tls.ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("etcd.tls.ca: no certificate in %s", t.CA)
			}
			tc.RootCAs = pool
		}
		cc.TLS = tc
	}
	return clientv3.New(cc)
}

func anyHTTPS(eps []string) bool {
	for _, e := range eps {
		if strings.HasPrefix(e, "https://") {
			return true
		}
	}
	return false
}
