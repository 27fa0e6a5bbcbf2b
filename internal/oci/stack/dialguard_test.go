package stack

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
	"github.com/oci-assemble/oci-assemble/internal/oci/retry"
)

// countingServer serves on addr ("127.0.0.1:0", "[::1]:0") and counts
// the requests it receives.
func countingServer(t *testing.T, addr string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listening on %s: %v", addr, err)
	}
	var n atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &n
}

// hopRegistry serves on addr and sends its client on to the URL in the
// query parameter to: GET /redirect with a 307, POST /upload with 202
// and that URL as the upload's Location.
func hopRegistry(t *testing.T, addr string) string {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listening on %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		to := r.URL.Query().Get("to")
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, to, http.StatusTemporaryRedirect)
		case "/upload":
			w.Header().Set("Location", to)
			w.WriteHeader(http.StatusAccepted)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// fakeDNS is a resolver that knows one name, inward.test, at 127.0.0.1,
// and answers every other question NXDOMAIN. It speaks DNS over the
// stream framing (RFC 1035 section 4.2.2) the Go resolver uses on a
// connection that is not a net.PacketConn.
func fakeDNS() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			for {
				var size [2]byte
				if _, err := io.ReadFull(server, size[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(size[:]))
				if _, err := io.ReadFull(server, q); err != nil || len(q) < 12 {
					return
				}
				a := dnsAnswer(q)
				binary.BigEndian.PutUint16(size[:], uint16(len(a)))
				if _, err := server.Write(append(size[:], a...)); err != nil {
					return
				}
			}
		}()
		return client, nil
	}}
}

// dnsAnswer answers the one question of query q.
func dnsAnswer(q []byte) []byte {
	end := 12
	var labels []string
	for end < len(q) && q[end] != 0 {
		n := int(q[end])
		if end+1+n > len(q) {
			break
		}
		labels = append(labels, string(q[end+1:end+1+n]))
		end += 1 + n
	}
	end += 5 // the root label, QTYPE, QCLASS
	if end > len(q) {
		end = len(q)
	}
	qtype := uint16(0)
	if end >= 4 {
		qtype = binary.BigEndian.Uint16(q[end-4 : end-2])
	}
	known := strings.EqualFold(strings.Join(labels, "."), "inward.test")
	a := append([]byte(nil), q[:end]...)
	a[2], a[3] = 0x84, 0x00 // response, authoritative
	binary.BigEndian.PutUint16(a[6:8], 0)
	binary.BigEndian.PutUint16(a[8:10], 0)
	binary.BigEndian.PutUint16(a[10:12], 0)
	switch {
	case !known:
		a[3] = 0x03 // NXDOMAIN
	case qtype == 1: // A
		binary.BigEndian.PutUint16(a[6:8], 1)
		a = append(a, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1)
	}
	return a
}

// publicFor makes the addresses of the given hosts public for the test:
// the registries and storage of a test all run on loopback.
func publicFor(addrs ...string) guardOption {
	return func(g *dialGuard) {
		g.reachOf = func(a netip.Addr) reach {
			for _, p := range addrs {
				if a.Unmap() == netip.MustParseAddr(p) {
					return reachPublic
				}
			}
			return reachOf(a)
		}
	}
}

func withResolver(r *net.Resolver) guardOption {
	return func(g *dialGuard) { g.resolver = r }
}

func testGuard(t *testing.T, insecure hosts.Insecure, opts ...guardOption) *http.Client {
	t.Helper()
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.Proxy = nil
	g := newDialGuard(base, insecure, opts...)
	t.Cleanup(func() {
		for _, rt := range append(g.confined[:], g.open) {
			rt.(*http.Transport).CloseIdleConnections()
		}
	})
	return &http.Client{Transport: g}
}

// hop has the registry at reg send the client on to target: by a 307
// (redirect), or by an upload Location the client then PUTs to, with
// the request marked as acting for the registry (location).
func hop(ctx context.Context, c *http.Client, kind, reg, target string) error {
	q := url.Values{"to": {target}}.Encode()
	if kind == "redirect" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+reg+"/redirect?"+q, http.NoBody)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	ctx = WithRegistry(ctx, reg)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+reg+"/upload?"+q, http.NoBody)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	req, err = http.NewRequestWithContext(ctx, http.MethodPut, resp.Header.Get("Location"), strings.NewReader("blob"))
	if err != nil {
		return err
	}
	resp, err = c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// TestDialGuardRefusesInwardHops: a registry on a public address (here
// 127.0.0.2, made public for the test) cannot send the runner to its
// loopback, the metadata service or the private network, by a 307 or by
// an upload Location, whatever the spelling of the host.
func TestDialGuardRefusesInwardHops(t *testing.T) {
	t.Parallel()
	v4, hits4 := countingServer(t, "127.0.0.1:0")
	v6, hits6 := countingServer(t, "[::1]:0")
	p4 := strconv.Itoa(v4.Listener.Addr().(*net.TCPAddr).Port)
	p6 := strconv.Itoa(v6.Listener.Addr().(*net.TCPAddr).Port)
	reg := hopRegistry(t, "127.0.0.2:0")
	c := testGuard(t, hosts.NewInsecure(), publicFor("127.0.0.2"), withResolver(fakeDNS()))
	for _, tc := range []struct {
		name, host string
		// internal: the refusal is ErrInternalAddress, not a name that
		// failed to resolve.
		internal bool
	}{
		{name: "localhost", host: "localhost:" + p4, internal: true},
		{name: "localhost.", host: "localhost.:" + p4},
		{name: "hex", host: "0x7f000001:" + p4},
		{name: "short", host: "127.1:" + p4},
		{name: "ipv6 loopback", host: "[::1]:" + p6, internal: true},
		{name: "ipv4-mapped", host: "[::ffff:127.0.0.1]:" + p4, internal: true},
		{name: "name resolving to loopback", host: "inward.test:" + p4, internal: true},
		{name: "unresolvable metadata name", host: "metadata.google.internal:" + p4},
		{name: "metadata address", host: "169.254.169.254", internal: true},
		{name: "private address", host: "10.0.0.1", internal: true},
		{name: "unspecified", host: "0.0.0.0:" + p4, internal: true},
	} {
		for _, kind := range []string{"redirect", "location"} {
			t.Run(tc.name+"/"+kind, func(t *testing.T) {
				t.Parallel()
				err := hop(context.Background(), c, kind, reg, "http://"+tc.host+"/v2/app/blobs/x")
				if err == nil {
					t.Fatalf("hop to %s: no error, want a refusal", tc.host)
				}
				if tc.internal && !errors.Is(err, ErrInternalAddress) {
					t.Errorf("hop to %s = %v, want ErrInternalAddress", tc.host, err)
				}
			})
		}
	}
	t.Cleanup(func() {
		if n := hits4.Load() + hits6.Load(); n != 0 {
			t.Errorf("the loopback services received %d requests, want none", n)
		}
	})
}

// TestDialGuardAllows: what the rule lets through — a public registry to
// public storage, a loopback registry anywhere, and a host the user
// listed in insecure-registries.
func TestDialGuardAllows(t *testing.T) {
	t.Parallel()
	storage, hits := countingServer(t, "127.0.0.3:0")
	local, localHits := countingServer(t, "127.0.0.1:0")
	localHost := "localhost:" + strconv.Itoa(local.Listener.Addr().(*net.TCPAddr).Port)
	public := hopRegistry(t, "127.0.0.2:0")
	loopback := hopRegistry(t, "127.0.0.1:0")
	for _, tc := range []struct {
		name, reg, target string
		insecure          []string
		hits              *atomic.Int32
	}{
		{name: "public to public", reg: public, target: storage.Listener.Addr().String(), hits: hits},
		{name: "loopback registry", reg: loopback, target: localHost, hits: localHits},
		{name: "listed insecure", reg: public, target: localHost, insecure: []string{localHost}, hits: localHits},
	} {
		for _, kind := range []string{"redirect", "location"} {
			t.Run(tc.name+"/"+kind, func(t *testing.T) {
				c := testGuard(t, hosts.NewInsecure(tc.insecure...), publicFor("127.0.0.2", "127.0.0.3"))
				before := tc.hits.Load()
				if err := hop(context.Background(), c, kind, tc.reg, "http://"+tc.target+"/v2/app/blobs/x"); err != nil {
					t.Fatalf("hop from %s to %s: %v", tc.reg, tc.target, err)
				}
				if tc.hits.Load() == before {
					t.Errorf("%s received no request", tc.target)
				}
			})
		}
	}
}

func TestReachOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr string
		want reach
	}{
		{"127.0.0.1", reachLoopback},
		{"127.255.0.9", reachLoopback},
		{"::1", reachLoopback},
		{"::ffff:127.0.0.1", reachLoopback},
		{"0.0.0.0", reachLoopback},
		{"::", reachLoopback},
		{"10.1.2.3", reachInternal},
		{"172.16.0.1", reachInternal},
		{"192.168.1.1", reachInternal},
		{"169.254.169.254", reachInternal},
		{"::ffff:169.254.169.254", reachInternal},
		{"100.100.100.200", reachInternal},
		{"fd00::1", reachInternal},
		{"fe80::1", reachInternal},
		{"224.0.0.1", reachInternal},
		{"255.255.255.255", reachInternal},
		{"8.8.8.8", reachPublic},
		{"2001:4860:4860::8888", reachPublic},
	} {
		if got := reachOf(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("reachOf(%s) = %s, want %s", tc.addr, got, tc.want)
		}
	}
}

// TestDialGuardThroughAProxy: through an HTTP proxy the dialled address
// is the proxy's (here on loopback, as a corporate proxy is often on the
// private network): a hop to a name only the proxy can resolve goes to
// it, and a hop to an internal name or address is refused before it.
func TestDialGuardThroughAProxy(t *testing.T) {
	t.Parallel()
	proxy, hits := countingServer(t, "127.0.0.1:0")
	proxyURL, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	reg := hopRegistry(t, "127.0.0.2:0")
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.Proxy = func(r *http.Request) (*url.URL, error) {
		if r.URL.Host == reg {
			return nil, nil // as NO_PROXY would
		}
		return proxyURL, nil
	}
	g := newDialGuard(base, hosts.NewInsecure(), publicFor("127.0.0.2"), withResolver(fakeDNS()))
	c := &http.Client{Transport: g}
	for _, tc := range []struct {
		name, host string
		allowed    bool
	}{
		{name: "name the proxy resolves", host: "storage.test", allowed: true},
		{name: "localhost", host: "localhost:9"},
		{name: "internal name", host: "metadata.google.internal"},
		{name: "short address", host: "127.1"},
		{name: "hex address", host: "0x7f000001"},
		{name: "metadata address", host: "169.254.169.254"},
		{name: "name resolving to loopback", host: "inward.test"},
	} {
		for _, kind := range []string{"redirect", "location"} {
			t.Run(tc.name+"/"+kind, func(t *testing.T) {
				before := hits.Load()
				err := hop(context.Background(), c, kind, reg, "http://"+tc.host+"/v2/app/blobs/x")
				switch {
				case tc.allowed && err != nil:
					t.Fatalf("hop to %s: %v", tc.host, err)
				case tc.allowed && hits.Load() == before:
					t.Errorf("hop to %s did not reach the proxy", tc.host)
				case !tc.allowed && !errors.Is(err, ErrInternalAddress):
					t.Errorf("hop to %s = %v, want ErrInternalAddress", tc.host, err)
				case !tc.allowed && hits.Load() != before:
					t.Errorf("hop to %s reached the proxy", tc.host)
				}
			})
		}
	}
}

// TestTokenRealmIsHeld: a registry on a public address whose challenge
// names a token realm that resolves to the runner's loopback gets no
// token request
// sent there, for a registry read without credentials (lazyPing builds
// the token transport).
func TestTokenRealmIsHeld(t *testing.T) {
	t.Parallel()
	realm, hits := countingServer(t, "127.0.0.1:0")
	// By a name that resolves to loopback: go-containerregistry refuses a
	// realm spelt as an internal address itself.
	realmURL := "http://inward.test:" + strconv.Itoa(realm.Listener.Addr().(*net.TCPAddr).Port) + "/token"
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("listening on 127.0.0.2: %v", err)
	}
	reg := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+realmURL+`",service="reg",scope="repository:app:pull"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	reg.Listener.Close()
	reg.Listener = l
	reg.Start()
	t.Cleanup(reg.Close)
	host := l.Addr().String()

	base := http.DefaultTransport.(*http.Transport).Clone()
	base.Proxy = nil
	insecure := hosts.NewInsecure(host)
	rt, err := retry.New(&pingCache{inner: newDialGuard(base, insecure, publicFor("127.0.0.2"), withResolver(fakeDNS()))}, retry.WithAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	creds := &credentialLog{inner: authn.NewMultiKeychain(), hosts: map[string]bool{}}
	r, err := name.NewRegistry(host, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := creds.Resolve(r); err != nil {
		t.Fatal(err)
	}
	lazy := newLazyPing(rt, creds, insecure, "test")
	ctx := context.Background()
	scopes := []string{r.Repo("app").Scope(transport.PullScope)}
	tr, err := transport.NewWithContext(ctx, r, authn.Anonymous, lazy, scopes)
	if err == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/v2/app/manifests/1", http.NoBody)
		var resp *http.Response
		if resp, err = (&http.Client{Transport: tr}).Do(req); err == nil {
			resp.Body.Close()
		}
	}
	if !errors.Is(err, ErrInternalAddress) {
		t.Errorf("read with a realm on loopback = %v, want ErrInternalAddress", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback realm received %d requests, want none", n)
	}
}
