package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
)

// ErrPlainHTTP is returned for a plain-HTTP request to a registry that is
// not listed as insecure.
var ErrPlainHTTP = errors.New("plain HTTP refused")

// schemeGuard refuses plain-HTTP requests to hosts not listed as insecure.
// For loopback, .local and RFC 1918 hosts name.Registry.Scheme is "http"
// and transport.Ping tries plain HTTP beside HTTPS, so ggcr would talk
// plain HTTP to them; a release pipeline must not send credentials or
// accept content that way unless it was asked to.
type schemeGuard struct {
	inner    http.RoundTripper
	insecure hosts.Insecure
}

func (g *schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.insecure.Has(req.URL.Host) {
		return nil, fmt.Errorf("%w to %s: it does not answer over HTTPS; if it serves plain HTTP, list it in insecure-registries", ErrPlainHTTP, req.URL.Host)
	}
	return g.inner.RoundTrip(req)
}

// pingCache answers the ping (GET /v2/) that transport.NewWithContext
// sends for every repository it opens a transport to, from the first
// answer of each registry: the challenge a registry sends does not change
// within a run, and a join touches several repositories per registry.
type pingCache struct {
	inner http.RoundTripper
	mu    sync.Mutex
	seen  map[string]*cachedPing // scheme://host → answer
}

type cachedPing struct {
	status int
	header http.Header
	body   []byte
}

func (p *pingCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.URL.Path != "/v2/" || req.Header.Get("Authorization") != "" {
		return p.inner.RoundTrip(req)
	}
	key := req.URL.Scheme + "://" + req.URL.Host
	p.mu.Lock()
	c := p.seen[key]
	p.mu.Unlock()
	if c == nil {
		resp, err := p.inner.RoundTrip(req)
		if err != nil || (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized) {
			return resp, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		c = &cachedPing{status: resp.StatusCode, header: resp.Header.Clone(), body: body}
		p.mu.Lock()
		if p.seen == nil {
			p.seen = map[string]*cachedPing{}
		}
		p.seen[key] = c
		p.mu.Unlock()
	}
	return c.response(req), nil
}

// response is the answer to req. It names req as its request:
// transport.Ping takes the scheme the ping went over from
// http.Response.Request (a redirect may have changed it).
func (c *cachedPing) response(req *http.Request) *http.Response {
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", c.status, http.StatusText(c.status)),
		StatusCode:    c.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        c.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: int64(len(c.body)),
		Request:       req,
	}
}
