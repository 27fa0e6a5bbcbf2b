package registrytest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is an HTTP forward proxy on loopback that serves one registry under
// a DNS name, as a CI service container is reached (GitLab's
// "registry:5000"): a name that needs no TLS on loopback addresses but is
// HTTPS to go-containerregistry unless its reference is marked insecure.
// Point a client at it with HTTP_PROXY and HTTPS_PROXY (or
// http.ProxyURL): a plain-HTTP request for the name is forwarded to the
// registry with its Host header kept, so the registry's Location headers
// name the alias too; an HTTPS request arrives as CONNECT and is tunnelled
// to the registry byte for byte, so a client that speaks TLS to a
// plain-HTTP registry fails exactly as it would against the real service.
// Any other host is refused with 502 and counted, so a test cannot reach
// past it.
type Proxy struct {
	// URL is the proxy's http://127.0.0.1:PORT address.
	URL string
	// Name is the host:port it serves the registry as.
	Name string

	connects, requests, refused atomic.Int64

	mu      sync.Mutex
	closed  bool
	open    map[net.Conn]bool // both ends of every open tunnel
	tunnels sync.WaitGroup
}

// StartProxy serves reg as name (host:port) until the test ends.
func StartProxy(t testing.TB, name string, reg *Registry) *Proxy {
	t.Helper()
	p := &Proxy{Name: strings.ToLower(name), open: map[net.Conn]bool{}}
	forward := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", reg.Host
			r.Out.Host = r.In.Host // the registry builds Location from it
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.URL.Host
		if r.Method == http.MethodConnect {
			host = r.Host
		}
		if !strings.EqualFold(host, p.Name) {
			p.refused.Add(1)
			http.Error(w, "this proxy serves only "+p.Name, http.StatusBadGateway)
			return
		}
		if r.Method == http.MethodConnect {
			p.connects.Add(1)
			p.tunnel(w, reg.Host)
			return
		}
		p.requests.Add(1)
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		p.mu.Lock()
		p.closed = true
		for c := range p.open {
			c.Close() // a client's idle tunnel would otherwise outlive the test
		}
		p.mu.Unlock()
		p.tunnels.Wait()
	})
	p.URL = srv.URL
	return p
}

// Connects counts the CONNECT tunnels opened to the registry: HTTPS
// attempts.
func (p *Proxy) Connects() int64 { return p.connects.Load() }

// Requests counts the plain-HTTP requests forwarded to the registry.
func (p *Proxy) Requests() int64 { return p.requests.Load() }

// Refused counts requests for any other host.
func (p *Proxy) Refused() int64 { return p.refused.Load() }

// tunnel answers a CONNECT and copies bytes between the client and the
// registry at addr until either side closes.
func (p *Proxy) tunnel(w http.ResponseWriter, addr string) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack the connection", http.StatusInternalServerError)
		return
	}
	up, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	down, rw, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if !p.track(up, down) {
		return
	}
	defer p.untrack(up, down)
	if _, err := io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, rw); closeWrite(up); done <- struct{}{} }()
	go func() { _, _ = io.Copy(down, up); closeWrite(down); done <- struct{}{} }()
	<-done
	<-done
}

// track records a tunnel's connections, or closes them when the proxy is
// closing.
func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	p.tunnels.Add(1)
	for _, c := range conns {
		p.open[c] = true
	}
	return true
}

func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	for _, c := range conns {
		c.Close()
		delete(p.open, c)
	}
	p.mu.Unlock()
	p.tunnels.Done()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
