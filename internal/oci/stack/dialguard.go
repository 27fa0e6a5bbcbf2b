package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
)

// ErrInternalAddress is returned for a request that a registry sent to
// another host (a redirect, an upload Location, a token realm) when that
// host is, or resolves to, an address more internal than the registry's
// own: a loopback address for a registry that is not on loopback, or a
// private, link-local or shared address (the cloud metadata service at
// 169.254.169.254 among them) for a registry on a public one.
var ErrInternalAddress = errors.New("refusing to follow the registry to an internal address")

// reach is how far inside the runner's network an address is, from the
// most internal.
type reach int

const (
	reachLoopback reach = iota // 127.0.0.0/8, ::1, 0.0.0.0/8, ::
	reachInternal              // private, link-local, shared, multicast, reserved
	reachPublic
)

func (r reach) String() string {
	return [...]string{"loopback", "internal", "public"}[r]
}

// cgnat is the shared address space (RFC 6598): carrier NAT, and the
// metadata service of some clouds (100.100.100.200).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// reachOf classifies an address; an IPv4-mapped IPv6 address is its IPv4
// address (::ffff:127.0.0.1 is loopback).
func reachOf(a netip.Addr) reach {
	a = a.Unmap()
	switch {
	case a.IsLoopback() || a.IsUnspecified() || a.Is4() && a.As4()[0] == 0:
		return reachLoopback
	case a.IsPrivate() || !a.IsGlobalUnicast() || cgnat.Contains(a):
		return reachInternal
	}
	return reachPublic
}

type registryKey struct{}

// WithRegistry returns ctx marked as acting for the registry host
// (host[:port]): a request made with it to another host — an upload
// Location, and the redirects and token requests that follow from it —
// is held to the rule of dialGuard, as a redirect is. Writers mark the
// context of every request whose URL a registry chose.
func WithRegistry(ctx context.Context, host string) context.Context {
	return context.WithValue(ctx, registryKey{}, host)
}

// RegistryOf returns the registry host ctx was marked with by
// WithRegistry.
func RegistryOf(ctx context.Context) (string, bool) {
	h, ok := ctx.Value(registryKey{}).(string)
	return h, ok && h != ""
}

// dialGuard is the bottom of the stack. A request a registry sent to a
// host other than its own — a 3xx redirect (blob reads redirected to
// storage), an upload Location on another host, a token realm — may not
// connect to an address more internal than the address of the registry
// itself: loopback < internal < public (see reach). Without that, a
// registry could steer the runner's requests, with the blob bytes and
// whatever the runner's network lets through, at services only the runner
// reaches: its loopback, the cloud metadata service, the private network.
// A registry on loopback or on the private network is trusted that far,
// as the user chose it; so is a target host listed in insecure-registries.
//
// The rule holds at the address dialled: the dialer checks each address
// a name resolves to just before it connects to it, so spellings
// (localhost., 0x7f000001, 127.1, ::ffff:127.0.0.1), names that resolve
// inward and a DNS answer that changes between two lookups all meet the
// same check; a name that does not resolve fails closed. Requests held to
// the rule go through their own connection pool, so a connection made
// for a request the rule allowed is never reused by one it refuses. The
// registry's reach is that of the addresses connected to for it (the
// most public one seen), so a registry cannot claim to be internal by a
// DNS answer it does not connect by.
//
// Through an HTTP proxy the dialled address is the proxy's: a request
// held to the rule is then refused when its host is an address or an
// internal name (localhost, *.internal, *.local) or resolves here to an
// internal address; a name only the proxy can resolve is left to it.
type dialGuard struct {
	insecure hosts.Insecure
	// open sends requests on their registry's own host, and records the
	// reach of each address it connects to; confined[r] sends the
	// requests held to a registry of reach r.
	open     http.RoundTripper
	confined [reachPublic + 1]http.RoundTripper
	// proxy is the base transport's proxy function; check, for a base
	// that is not an *http.Transport, says requests held to the rule are
	// checked by resolving their host here before they are sent.
	proxy func(*http.Request) (*url.URL, error)
	check bool
	// resolver resolves host names; reachOf classifies an address. Tests
	// replace them.
	resolver *net.Resolver
	reachOf  func(netip.Addr) reach

	mu   sync.Mutex
	seen map[string]reach // registry host name → the most public address connected to
}

// guardOption configures a dialGuard in tests.
type guardOption func(*dialGuard)

func newDialGuard(base http.RoundTripper, insecure hosts.Insecure, opts ...guardOption) *dialGuard {
	g := &dialGuard{insecure: insecure, resolver: net.DefaultResolver, reachOf: reachOf, seen: map[string]reach{}}
	for _, opt := range opts {
		opt(g)
	}
	t, ok := base.(*http.Transport)
	if !ok {
		g.open, g.check = base, true
		for r := range g.confined {
			g.confined[r] = base
		}
		return g
	}
	g.proxy = t.Proxy
	open := t.Clone()
	d := g.dialer(reachLoopback)
	open.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err == nil {
			if ap, perr := netip.ParseAddrPort(conn.RemoteAddr().String()); perr == nil {
				g.record(hostname(addr), ap.Addr())
			}
		}
		return conn, err
	}
	g.open = open
	g.confined[reachLoopback] = open // a registry on loopback may lead anywhere
	for _, r := range []reach{reachInternal, reachPublic} {
		c := t.Clone()
		c.DialContext = g.dialer(r).DialContext
		g.confined[r] = c
	}
	return g
}

// dialer connects only to addresses of reach floor or more public. It
// replaces the base transport's dialer, with remote.DefaultTransport's
// timeouts.
func (g *dialGuard) dialer(floor reach) *net.Dialer {
	return &net.Dialer{
		Timeout:   30 * time.Second,
		KeepAlive: 30 * time.Second,
		Resolver:  g.resolver,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrInternalAddress, address)
			}
			if r := g.reachOf(ap.Addr()); r < floor {
				return fmt.Errorf("%w: %s is a %s address", ErrInternalAddress, ap.Addr().Unmap(), r)
			}
			return nil
		},
	}
}

// RoundTrip implements http.RoundTripper.
func (g *dialGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	origin := originOf(req)
	if sameHost(origin, req.URL.Host) {
		return g.sendOpen(req)
	}
	if err := bodyLeaves(req); err != nil {
		return nil, err
	}
	if g.insecure.Has(req.URL.Host) {
		return g.open.RoundTrip(req)
	}
	floor := g.registryReach(req.Context(), origin)
	if floor == reachLoopback {
		return g.open.RoundTrip(req)
	}
	proxied, err := g.precheck(req, floor)
	if err != nil {
		return nil, fmt.Errorf("%s sent the request to %s: %w", origin, req.URL.Host, err)
	}
	if proxied {
		// The dial is to the proxy the user configured, not to the host.
		return g.open.RoundTrip(req)
	}
	resp, err := g.confined[floor].RoundTrip(req)
	if err != nil && errors.Is(err, ErrInternalAddress) {
		return nil, fmt.Errorf("%s sent the request to %s: %w", origin, req.URL.Host, err)
	}
	return resp, err
}

// sendOpen sends a request on its registry's own host; the open dialer
// records the reach of the address it connects to.
func (g *dialGuard) sendOpen(req *http.Request) (*http.Response, error) {
	if g.check {
		// The base dials by its own rules: record what the name resolves to.
		if addrs, err := g.resolve(req.Context(), req.URL.Hostname()); err == nil {
			g.record(req.URL.Hostname(), addrs...)
		}
	}
	return g.open.RoundTrip(req)
}

// originOf is the registry host a request acts for: the one its context
// was marked with (WithRegistry), else the host of the first request of
// its redirect chain.
func originOf(req *http.Request) string {
	if h, ok := RegistryOf(req.Context()); ok {
		return h
	}
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	return first.URL.Host
}

// sameHost reports whether two host[:port] name the same host; a port
// does not make another host, as it is the same machine.
func sameHost(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(hostname(a), "."), strings.TrimSuffix(hostname(b), "."))
}

func hostname(hostport string) string {
	return (&url.URL{Host: hostport}).Hostname()
}

// bodyLeaves refuses a redirect that would send a login body to another
// host than the one it was sent to: a 307 or 308 is followed with the
// body (RFC 9110 section 15.4.8), and net/http strips only headers on a
// redirect to another host. A login body is a form (an OAuth2 token
// request, RFC 6749 section 4.3: a password or refresh token) or JSON (a
// vendor API's login, as Docker Hub's POST /v2/auth/token).
func bodyLeaves(req *http.Request) error {
	if req.Response == nil || req.Response.Request == nil || req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	if sameHost(req.Response.Request.URL.Host, req.URL.Host) {
		return nil
	}
	ct, _, _ := strings.Cut(strings.ToLower(req.Header.Get("Content-Type")), ";")
	switch strings.TrimSpace(ct) {
	case "application/x-www-form-urlencoded", "multipart/form-data", "application/json":
		return fmt.Errorf("refusing to send a login body from %s to %s on a %d redirect", req.Response.Request.URL.Host, req.URL.Host, req.Response.StatusCode)
	}
	return nil
}

// registryReach is the reach of a registry host: that of the addresses
// connected to for it (the most public), else of what its name resolves
// to (the most public), else public.
func (g *dialGuard) registryReach(ctx context.Context, host string) reach {
	name := strings.ToLower(strings.TrimSuffix(hostname(host), "."))
	g.mu.Lock()
	r, ok := g.seen[name]
	g.mu.Unlock()
	if ok {
		return r
	}
	addrs, err := g.resolve(ctx, name)
	if err != nil || len(addrs) == 0 {
		return reachPublic
	}
	r = reachLoopback
	for _, a := range addrs {
		r = max(r, g.reachOf(a))
	}
	return r
}

func (g *dialGuard) record(host string, addrs ...netip.Addr) {
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, a := range addrs {
		if r, ok := g.seen[name]; !ok || g.reachOf(a) > r {
			g.seen[name] = g.reachOf(a)
		}
	}
}

// resolve returns the addresses of host: itself when it is an address.
func (g *dialGuard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	return g.resolver.LookupNetIP(ctx, "ip", host)
}

// precheck is the rule for a request whose dial this guard does not see:
// through a proxy (it reports that the request is proxied), or through a
// base that is not an *http.Transport.
func (g *dialGuard) precheck(req *http.Request, floor reach) (bool, error) {
	proxied := false
	if g.proxy != nil {
		u, err := g.proxy(req)
		if err != nil {
			return false, err
		}
		proxied = u != nil
	}
	if !g.check && !proxied {
		return false, nil // the dialer checks every address
	}
	host := strings.ToLower(strings.TrimSuffix(req.URL.Hostname(), "."))
	if internalName(host) {
		return proxied, fmt.Errorf("%w: %s is an internal name", ErrInternalAddress, host)
	}
	addrs, err := g.resolve(req.Context(), host)
	if err != nil {
		if proxied && !looksNumeric(host) {
			return true, nil // a name only the proxy resolves: the proxy's to judge
		}
		return proxied, fmt.Errorf("%w: %s does not resolve: %w", ErrInternalAddress, host, err)
	}
	for _, a := range addrs {
		if r := g.reachOf(a); r < floor {
			return proxied, fmt.Errorf("%w: %s is a %s address", ErrInternalAddress, a.Unmap(), r)
		}
	}
	return proxied, nil
}

// internalName reports whether host is a name that stands for the
// machine or its private network: localhost (RFC 6761 section 6.3),
// .local (RFC 6762), .internal (reserved for private use, as the cloud
// metadata names metadata.google.internal use it) and .home.arpa (RFC
// 8375).
func internalName(host string) bool {
	if host == "localhost" {
		return true
	}
	for _, suffix := range []string{".localhost", ".local", ".internal", ".home.arpa", ".localdomain"} {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}

// looksNumeric reports whether host is made of digits, dots and hex
// digits after 0x: an address in one of the spellings inet_aton accepts
// (127.1, 0x7f000001, 017700000001), which a proxy may resolve to any
// address.
func looksNumeric(host string) bool {
	for _, part := range strings.Split(host, ".") {
		p := strings.TrimPrefix(part, "0x")
		if p == "" && part != "0x" {
			return false
		}
		for _, c := range p {
			if !strings.ContainsRune("0123456789abcdef", c) {
				return false
			}
		}
	}
	return true
}
