package clone

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aifactory/aifactory-mcp/store"
)

// NetPolicy decides which hosts and addresses a clone may reach.
type NetPolicy struct {
	AllowedHosts         []string // exact hosts or "*.example.com"; empty means any
	AllowPrivateNetworks bool     // loopback, RFC 1918, unique-local, CGNAT
	AllowLinkLocal       bool     // 169.254.0.0/16, fe80::/10 and metadata addresses
	AllowHTTP            bool     // plain http:// URLs (never with a credential)
	RootCAs              *x509.CertPool
}

// LoadCAFile returns the system roots plus the PEM certificates in path.
func LoadCAFile(path string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read AIFACTORY_CA_FILE: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, store.Errorf(store.EINVALID, "AIFACTORY_CA_FILE %s holds no PEM certificate", path)
	}
	return pool, nil
}

// metadata addresses refused with link-local even where they are not in
// the link-local ranges (AWS IPv6, Alibaba Cloud).
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("100.100.100.200"),
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// CheckHost applies the allowed-hosts list, and for IP literals the address
// rules, before any network traffic.
func (p *NetPolicy) CheckHost(host string) error {
	host = strings.ToLower(host)
	if len(p.AllowedHosts) > 0 && !p.hostAllowed(host) {
		return store.Errorf(store.EFORBIDDEN, "host %s is not in AIFACTORY_ALLOWED_HOSTS; ask the server's operator to allow it", host)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(ip, host)
	}
	return nil
}

func (p *NetPolicy) hostAllowed(host string) bool {
	for _, pat := range p.AllowedHosts {
		if pat == host {
			return true
		}
		if strings.HasPrefix(pat, "*.") && strings.HasSuffix(host, pat[1:]) && len(host) > len(pat)-1 {
			return true
		}
	}
	return false
}

// CheckAddr applies the address rules to an address a host resolved to.
func (p *NetPolicy) CheckAddr(ip netip.Addr, host string) error {
	ip = ip.Unmap()
	if !p.AllowLinkLocal {
		for _, m := range metadataAddrs {
			if ip == m {
				return store.Errorf(store.EFORBIDDEN, "%s resolves to a cloud metadata address, which clones may not reach", host)
			}
		}
		if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() {
			return store.Errorf(store.EFORBIDDEN, "%s resolves to a link-local address (such as a cloud metadata service), which clones may not reach", host)
		}
	}
	if ip.IsUnspecified() || ip.IsMulticast() {
		return store.Errorf(store.EFORBIDDEN, "%s resolves to an address clones may not reach", host)
	}
	if !p.AllowPrivateNetworks && (ip.IsLoopback() || ip.IsPrivate() || cgnat.Contains(ip)) {
		return store.Errorf(store.EFORBIDDEN, "%s resolves to a private network address, which this server does not reach (AIFACTORY_ALLOW_PRIVATE_NETWORKS is false)", host)
	}
	return nil
}

// guardError carries a policy refusal out of the dialer.
type guardError struct{ err error }

func (e *guardError) Error() string { return e.err.Error() }
func (e *guardError) Unwrap() error { return e.err }

// newTransport returns the HTTP transport every clone and fetch uses. Its
// dialer checks the address actually connected to, after DNS, so a host
// that resolves (or re-resolves) to a refused address is caught.
func (p *NetPolicy) newTransport() *http.Transport {
	dialer := &net.Dialer{
		Timeout:   30 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return &guardError{store.Errorf(store.EFORBIDDEN, "refusing to connect to %s", address)}
			}
			if err := p.CheckAddr(ap.Addr(), ap.Addr().String()); err != nil {
				return &guardError{err}
			}
			return nil
		},
	}
	return &http.Transport{
		Proxy:                 nil, // a proxy would hide the real destination from the guard
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: p.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
}

// checkRedirect applies the policy to every redirect hop: same scheme or an
// upgrade to https, an allowed host, at most 5 hops.
func (p *NetPolicy) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("too many redirects")
	}
	if req.URL.Scheme != "https" && !(req.URL.Scheme == "http" && p.AllowHTTP && via[0].URL.Scheme == "http") {
		return errDowngrade()
	}
	return p.CheckHost(req.URL.Hostname())
}

// errDowngrade refuses a redirect from https (or to any scheme but http
// where plain http is allowed).
func errDowngrade() error {
	return store.Errorf(store.EFORBIDDEN, "the server redirected to a non-https URL, which is refused; call again with the repository's https:// URL")
}

type authKey struct{}

// authBinding is the credential of one network operation and the one
// host:port it may be sent to.
type authBinding struct {
	hostPort string
	username string
	token    store.Secret
	credName string
	credID   string
	orgID    string
	used     atomic.Bool
}

// authTransport adds basic auth to a request only when it goes over https to
// exactly the bound host and port, so a redirect elsewhere never carries it.
type authTransport struct{ base http.RoundTripper }

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := req.Context().Value(authKey{}).(*authBinding)
	if b != nil && req.URL.Scheme == "https" && canonicalRequestHost(req) == b.hostPort {
		req = req.Clone(req.Context())
		req.SetBasicAuth(b.username, b.token.Reveal())
		b.used.Store(true)
	} else if req.Header.Get("Authorization") != "" {
		req = req.Clone(req.Context())
		req.Header.Del("Authorization")
	}
	return t.base.RoundTrip(req)
}

func canonicalRequestHost(req *http.Request) string {
	port := req.URL.Port()
	if port == "" && req.URL.Scheme == "http" {
		port = "80"
	}
	return store.CanonicalHost(req.URL.Hostname(), port)
}

func withAuth(ctx context.Context, b *authBinding) context.Context {
	if b == nil {
		return ctx
	}
	return context.WithValue(ctx, authKey{}, b)
}
