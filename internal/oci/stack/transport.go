package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

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

// progressTransport logs one line per blob upload (size and throughput)
// and per cross-repository mount (the writer logs a blob already there). It watches requests rather than wrapping
// layers: the writers mount a layer only when it is a
// *remote.MountableLayer, and a wrapper would hide that.
type progressTransport struct {
	inner  http.RoundTripper
	logger *slog.Logger
	// every is how often a long upload logs how far it got; 0 is 10s.
	every time.Duration
	// now reads the clock for durations and throughput; nil is time.Now.
	// Tests set it so that what is logged does not depend on timing.
	now func() time.Time

	mu      sync.Mutex
	uploads map[string]*upload // by upload session path
}

type upload struct {
	start time.Time
	bytes int64
	// said is when the last "blob uploading" line was logged.
	said time.Time
}

func (p *progressTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	path := req.URL.Path
	isUpload := strings.Contains(path, "/blobs/uploads/")
	if !isUpload {
		return p.inner.RoundTrip(req)
	}
	var sent *countingBody
	switch req.Method {
	case http.MethodPatch, http.MethodPut:
		if req.Body != nil && req.Body != http.NoBody {
			up := p.session(path)
			sent = &countingBody{ReadCloser: req.Body, n: &up.bytes, mu: &p.mu,
				tick: func() { p.tick(req, up) }}
			req = req.Clone(req.Context()) // a RoundTripper must not modify its request
			req.Body = sent
		}
	}
	resp, err := p.inner.RoundTrip(req)
	if sent != nil && (err != nil || resp.StatusCode >= 300) {
		// A failed attempt is sent again in full: count only the one
		// the registry accepts.
		sent.forget()
	}
	if err != nil || resp == nil {
		return resp, err
	}
	q := req.URL.Query()
	switch {
	case req.Method == http.MethodPost && q.Get("mount") != "" && resp.StatusCode == http.StatusCreated:
		p.logger.Info("blob mounted", "digest", q.Get("mount"), "from", q.Get("from"), "to", repoOf(path))
	case req.Method == http.MethodPut && q.Get("digest") != "" && resp.StatusCode == http.StatusCreated:
		p.mu.Lock()
		up := p.uploads[path]
		delete(p.uploads, path)
		p.mu.Unlock()
		if up != nil {
			secs := p.clock().Sub(up.start).Seconds()
			mbps := 0.0
			if secs > 0 {
				mbps = float64(up.bytes) / 1e6 / secs
			}
			p.logger.Info("blob uploaded", "digest", q.Get("digest"), "to", repoOf(path),
				"size", humanBytes(up.bytes), "seconds", fmt.Sprintf("%.2f", secs), "MB/s", fmt.Sprintf("%.1f", mbps))
		}
	}
	return resp, nil
}

// tick logs a long upload's progress once per p.every: size so far and
// throughput, so a big layer does not go quiet for minutes. Called with
// p.mu held.
func (p *progressTransport) tick(req *http.Request, up *upload) {
	every := p.every
	if every <= 0 {
		every = 10 * time.Second
	}
	now := p.clock()
	if up.said.IsZero() {
		up.said = up.start
	}
	if now.Sub(up.said) < every {
		return
	}
	up.said = now
	secs := now.Sub(up.start).Seconds()
	p.logger.Info("blob uploading", "to", repoOf(req.URL.Path), "sent", humanBytes(up.bytes),
		"seconds", fmt.Sprintf("%.0f", secs), "MB/s", fmt.Sprintf("%.1f", float64(up.bytes)/1e6/secs))
}

func (p *progressTransport) session(path string) *upload {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.uploads == nil {
		p.uploads = map[string]*upload{}
	}
	up, ok := p.uploads[path]
	if !ok {
		up = &upload{start: p.clock()}
		p.uploads[path] = up
	}
	return up
}

func (p *progressTransport) clock() time.Time {
	if p.now == nil {
		return time.Now()
	}
	return p.now()
}

// repoOf is the repository of an upload path, /v2/<name>/blobs/uploads/...
func repoOf(path string) string {
	repo, _ := repository(path)
	return repo
}

// countingBody adds what one attempt sends to its upload's total.
type countingBody struct {
	io.ReadCloser
	n    *int64
	mu   *sync.Mutex
	mine int64
	tick func() // called after each read, with mu held
}

func (c *countingBody) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	c.mu.Lock()
	*c.n += int64(n)
	c.mine += int64(n)
	if c.tick != nil {
		c.tick()
	}
	c.mu.Unlock()
	return n, err
}

// forget takes this attempt's bytes back out of the total.
func (c *countingBody) forget() {
	c.mu.Lock()
	*c.n -= c.mine
	c.mine = 0
	c.mu.Unlock()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
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
