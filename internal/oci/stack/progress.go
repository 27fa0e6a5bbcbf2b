package stack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/oci-assemble/oci-assemble/internal/units"
)

// Progress lines are bounded: a line at most every progressEvery, and
// while the total is known only after another progressStep percent, so a
// fast upload says nothing until it is done and a slow one at most ten
// lines. Units are IEC throughout (package units).
const (
	progressEvery = 5 * time.Second
	progressStep  = 10
)

// blobKey marks a request's context with the blob it sends.
type blobKey struct{}

type blobInfo struct {
	digest string
	size   int64
}

// WithBlob marks ctx as sending the blob digest of size bytes, so that
// the progress lines of its upload name the layer and show the share sent.
// A streamed layer, whose digest and size are known only once sent, is
// not marked.
func WithBlob(ctx context.Context, digest string, size int64) context.Context {
	return context.WithValue(ctx, blobKey{}, blobInfo{digest, size})
}

// progressTransport logs one line per blob upload (size and rate) and
// per cross-repository mount (the writer logs a blob already there), and
// while a long upload runs, how far it got. It watches requests rather
// than wrapping layers: the writers mount a layer only when it is a
// *remote.MountableLayer, and a wrapper would hide that.
type progressTransport struct {
	inner  http.RoundTripper
	logger *slog.Logger
	// every is the least time between two progress lines of an upload;
	// 0 is progressEvery.
	every time.Duration
	// now reads the clock for durations and rates; nil is time.Now.
	// Tests set it so that what is logged does not depend on timing.
	now func() time.Time

	mu      sync.Mutex
	uploads map[string]*upload // by upload session path
}

type upload struct {
	start time.Time
	bytes int64
	blob  blobInfo
	// said and saidPct are when the last progress line was logged, and
	// the percentage it gave.
	said    time.Time
	saidPct int
}

func (p *progressTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	path := req.URL.Path
	if !strings.Contains(path, "/blobs/uploads/") {
		return p.inner.RoundTrip(req)
	}
	var sent *countingBody
	switch req.Method {
	case http.MethodPatch, http.MethodPut:
		if req.Body != nil && req.Body != http.NoBody {
			up := p.session(req)
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
			took := p.clock().Sub(up.start)
			p.logger.Info("blob uploaded", "digest", q.Get("digest"), "to", repoOf(path),
				"size", units.Bytes(up.bytes), "seconds", fmt.Sprintf("%.2f", took.Seconds()), "rate", units.Rate(up.bytes, took))
		}
	}
	return resp, nil
}

// tick logs a long upload's progress: the layer, bytes of total,
// percent and rate, so a big layer does not go quiet for minutes. Called
// with p.mu held.
func (p *progressTransport) tick(req *http.Request, up *upload) {
	every := p.every
	if every <= 0 {
		every = progressEvery
	}
	now := p.clock()
	if up.said.IsZero() {
		up.said = up.start
	}
	pct := units.Percent(up.bytes, up.blob.size)
	if now.Sub(up.said) < every || (up.blob.size > 0 && pct < up.saidPct+progressStep) {
		return
	}
	up.said, up.saidPct = now, pct
	layer, sent := "streamed", units.Bytes(up.bytes)
	if up.blob.digest != "" {
		layer = shortDigest(up.blob.digest)
	}
	if up.blob.size > 0 {
		sent = fmt.Sprintf("%s of %s (%d%%)", sent, units.Bytes(up.blob.size), pct)
	}
	p.logger.Info("blob uploading", "layer", layer, "to", repoOf(req.URL.Path), "sent", sent,
		"rate", units.Rate(up.bytes, now.Sub(up.start)))
}

// session is the upload a PATCH or PUT belongs to, by its path; the
// first request of a session names its blob (WithBlob).
func (p *progressTransport) session(req *http.Request) *upload {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.uploads == nil {
		p.uploads = map[string]*upload{}
	}
	up, ok := p.uploads[req.URL.Path]
	if !ok {
		up = &upload{start: p.clock()}
		up.blob, _ = req.Context().Value(blobKey{}).(blobInfo)
		p.uploads[req.URL.Path] = up
	}
	return up
}

func (p *progressTransport) clock() time.Time {
	if p.now == nil {
		return time.Now()
	}
	return p.now()
}

// shortDigest is the algorithm and the first 12 hex digits, as docker
// shortens image ids.
func shortDigest(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return alg + ":" + hex[:12]
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
