package registrytest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// QuirkProxy is a plain-HTTP reverse proxy on loopback in front of a real
// registry that answers some requests as a named public registry is
// documented to, where that departs from the distribution spec. Each
// Quirk is one such behaviour and cites where it was reported; requests
// no quirk claims reach the registry unchanged. A proxy with a quirk that
// sends clients elsewhere (ForeignUploads, BlobRedirect) also runs a
// "storage" server on localhost that relays to the registry and records
// what it received.
type QuirkProxy struct {
	*httptest.Server
	// Host is host:port, for references and insecure-registries.
	Host string
	// Seen records every request the proxy received.
	Seen *Recorder
	// Storage records every request the storage server received; nil
	// without a quirk that uses it.
	Storage *Recorder
	// StorageHost is the storage server's host:port (a name, localhost,
	// as object storage is reached by name).
	StorageHost string

	upstream  *url.URL
	transport http.RoundTripper
	quirks    []Quirk

	mu       sync.Mutex
	answered map[string]int    // by quirk name
	auth     map[string]string // storage key → Authorization it relays
	keys     int
	maxChunk int64 // largest PATCH body sent with Content-Range
}

// Quirk is one way a public registry departs from the spec.
type Quirk struct {
	// Name identifies the quirk in Answered.
	Name string
	// serve answers r itself and returns true, or returns false to let
	// r through to the registry.
	serve func(p *QuirkProxy, w http.ResponseWriter, r *http.Request) bool
	// reply rewrites the registry's reply to r before it is sent on.
	reply func(p *QuirkProxy, r *http.Request, resp *http.Response)
	// storage says the quirk needs the storage server.
	storage bool
}

// StartQuirkProxy serves reg through quirks until the test ends. reg
// may use TLS: the proxy speaks plain HTTP to clients either way.
func StartQuirkProxy(t testing.TB, reg *Registry, quirks ...Quirk) *QuirkProxy {
	t.Helper()
	up, err := url.Parse(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	tr := reg.Client().Transport.(*http.Transport).Clone()
	tr.DisableCompression = true
	t.Cleanup(tr.CloseIdleConnections)
	p := &QuirkProxy{
		Seen: NewRecorder(), upstream: up, transport: tr, quirks: quirks,
		answered: map[string]int{}, auth: map[string]string{},
	}
	p.Server = httptest.NewServer(p.Seen.Handler(http.HandlerFunc(p.serve)))
	p.Host = p.Listener.Addr().String()
	t.Cleanup(p.Close)
	for _, q := range quirks {
		if q.storage && p.Storage == nil {
			p.Storage = NewRecorder()
			s := httptest.NewServer(p.Storage.Handler(http.HandlerFunc(p.serveStorage)))
			t.Cleanup(s.Close)
			p.StorageHost = strings.Replace(s.Listener.Addr().String(), "127.0.0.1", "localhost", 1)
		}
	}
	return p
}

// Answered returns how many requests the named quirk answered or
// rewrote.
func (p *QuirkProxy) Answered(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.answered[name]
}

// MaxChunk returns the largest PATCH body that was sent with a
// Content-Range header, 0 when none was.
func (p *QuirkProxy) MaxChunk() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxChunk
}

func (p *QuirkProxy) count(name string) {
	p.mu.Lock()
	p.answered[name]++
	p.mu.Unlock()
}

// first reports whether the named quirk has answered fewer than n
// requests, and counts this one if so.
func (p *QuirkProxy) first(name string, n int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.answered[name] >= n {
		return false
	}
	p.answered[name]++
	return true
}

func (p *QuirkProxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPatch && r.Header.Get("Content-Range") != "" && r.ContentLength > 0 {
		p.mu.Lock()
		p.maxChunk = max(p.maxChunk, r.ContentLength)
		p.mu.Unlock()
	}
	for _, q := range p.quirks {
		if q.serve != nil && q.serve(p, w, r) {
			return
		}
	}
	resp, err := p.forward(r, p.upstream.Scheme+"://"+p.upstream.Host+r.URL.RequestURI(), r.Header)
	if err != nil {
		http.Error(w, "quirk proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	p.rewriteLocation(resp.Header)
	for _, q := range p.quirks {
		if q.reply != nil {
			q.reply(p, r, resp)
		}
	}
	relay(w, resp)
}

// forward sends r's method and body to u with header h.
func (p *QuirkProxy) forward(r *http.Request, u string, h http.Header) (*http.Response, error) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u, r.Body)
	if err != nil {
		return nil, err
	}
	copyHeader(out.Header, h)
	out.ContentLength = r.ContentLength
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	// The registry builds upload locations from Host: keep the proxy's,
	// so that clients come back through it.
	out.Host = p.Host
	return p.transport.RoundTrip(out)
}

func relay(w http.ResponseWriter, resp *http.Response) {
	copyHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		panic(http.ErrAbortHandler) // a cut reply must look cut
	}
}

// rewriteLocation points a Location on the proxy's own name back at it
// over plain HTTP (a TLS registry builds https URLs).
func (p *QuirkProxy) rewriteLocation(h http.Header) {
	u, err := url.Parse(h.Get("Location"))
	if err != nil || (u.Host != p.Host && u.Host != p.upstream.Host) {
		return
	}
	u.Scheme, u.Host = "http", p.Host
	h.Set("Location", u.String())
}

// registryError writes a distribution-spec error document.
func registryError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, message)
}

// quirkRepo splits /v2/<name>/<kind>/<rest> into name and rest.
func quirkRepo(path, kind string) (string, string, bool) {
	p, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(p, "/"+kind+"/")
	if i <= 0 {
		return "", "", false
	}
	return p[:i], p[i+len(kind)+2:], true
}

func isPingPath(r *http.Request) bool { return r.URL.Path == "/v2/" }

// MountRefused answers a cross-repository mount (POST with mount and
// from naming another repository) with status and body instead of the
// spec's 201 or 202. Harbor answers 401 for a source project that does
// not exist or the token cannot read (goharbor/harbor#17097), with a
// Bearer challenge when the registry uses token auth; Docker Hub answered
// 403 with an empty body (goreleaser/goreleaser#5853).
func MountRefused(status int, body string) Quirk {
	name := fmt.Sprintf("mount-refused-%d", status)
	return Quirk{Name: name, serve: func(p *QuirkProxy, w http.ResponseWriter, r *http.Request) bool {
		repo, _, ok := quirkRepo(r.URL.Path, "blobs")
		q := r.URL.Query()
		if !ok || r.Method != http.MethodPost || q.Get("mount") == "" || q.Get("from") == "" || q.Get("from") == repo {
			return false
		}
		p.count(name)
		if status == http.StatusUnauthorized {
			if ch := p.challenge(r); ch != "" {
				w.Header().Set("WWW-Authenticate", ch+`,scope="repository:`+q.Get("from")+`:pull"`)
			}
		}
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		io.WriteString(w, body)
		return true
	}}
}

// challenge is the registry's Bearer challenge without a scope, or "".
func (p *QuirkProxy) challenge(r *http.Request) string {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, p.upstream.String()+"/v2/", http.NoBody)
	if err != nil {
		return ""
	}
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		return ""
	}
	resp.Body.Close()
	ch := resp.Header.Get("WWW-Authenticate")
	if !strings.HasPrefix(strings.ToLower(ch), "bearer ") {
		return ""
	}
	return ch
}

// RateLimitedHTML answers the first n requests other than the ping with
// 429, an HTML body and no Retry-After, as Docker Hub has
// (docker/hub-feedback#1907).
func RateLimitedHTML(n int) Quirk {
	const name = "rate-limited-html"
	return Quirk{Name: name, serve: func(p *QuirkProxy, w http.ResponseWriter, r *http.Request) bool {
		if isPingPath(r) || !p.first(name, n) {
			return false
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, "<html><body><h1>429 Too Many Requests</h1>You have sent too many requests in a given amount of time.</body></html>")
		return true
	}}
}

// SecondaryRateLimit answers the first n requests other than the ping
// with 403 and a body saying it is a rate limit, as GHCR has for GitHub's
// secondary rate limits (perminder-klair/subwave#1377,
// markrussinovich/refchecker#67: "You have exceeded a secondary rate
// limit").
func SecondaryRateLimit(n int) Quirk {
	const name = "secondary-rate-limit"
	return Quirk{Name: name, serve: func(p *QuirkProxy, w http.ResponseWriter, r *http.Request) bool {
		if isPingPath(r) || !p.first(name, n) {
			return false
		}
		registryError(w, http.StatusForbidden, "DENIED", "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
		return true
	}}
}

// PushDenied answers every upload and manifest PUT with 403 DENIED, as
// Docker Hub does to a credential without push rights ("requested access
// to the resource is denied").
func PushDenied() Quirk {
	const name = "push-denied"
	return Quirk{Name: name, serve: func(p *QuirkProxy, w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
			return false
		}
		p.count(name)
		registryError(w, http.StatusForbidden, "DENIED", "requested access to the resource is denied")
		return true
	}}
}

// ManifestPutThrottled answers the first n manifest PUTs with 429, as
// ECR throttles PutImage at about 10 a second (containerd/containerd#10447).
func ManifestPutThrottled(n int) Quirk {
	const name = "manifest-put-throttled"
	return Quirk{Name: name, serve: func(p *QuirkProxy, w http.ResponseWriter, r *http.Request) bool {
		if _, _, ok := quirkRepo(r.URL.Path, "manifests"); !ok || r.Method != http.MethodPut || !p.first(name, n) {
			return false
		}
		registryError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "Rate exceeded")
		return true
	}}
}

// TokenRateLimited puts the token server ts behind the proxy (the
// registry's challenges name the proxy's /token as realm) and answers the
// first n token requests with 429, as Quay's auth endpoint did under
// concurrent pushes (projectcalico/node#1305). The registry must be
// configured with ts.
func TokenRateLimited(ts *TokenServer, n int) Quirk {
	const name = "token-rate-limited"
	return Quirk{
		Name: name,
		serve: func(p *QuirkProxy, w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/token" {
				return false
			}
			if p.first(name, n) {
				http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
				return true
			}
			resp, err := p.forward(r, ts.URL+"?"+r.URL.RawQuery, r.Header)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return true
			}
			defer resp.Body.Close()
			relay(w, resp)
			return true
		},
		reply: func(p *QuirkProxy, _ *http.Request, resp *http.Response) {
			if ch := resp.Header.Get("WWW-Authenticate"); ch != "" {
				resp.Header.Set("WWW-Authenticate", strings.Replace(ch, ts.URL, "http://"+p.Host+"/token", 1))
			}
		},
	}
}

// ghcr416 is GHCR's answer to a PATCH over its limit
// (oras-project/rust-oci-client#35, ocx-sh/ocx#237).
const ghcr416 = "the request body is too large and exceeds the maximum permissible limit of 4.00MiB"

// ChunkLimit answers a PATCH that carries Content-Range and a body over
// limit bytes with 416 REQUESTED_RANGE_NOT_SATISFIABLE, as GHCR does over
// 4 MiB (oras-project/rust-oci-client#35, ocx-sh/ocx#237).
func ChunkLimit(limit int64) Quirk {
	return patchLimit("chunk-limit", limit, true)
}

// StreamedPatchLimit answers any PATCH whose body passes limit bytes,
// with or without Content-Range, with GHCR's 416: a registry that caps
// the streamed PATCH docker sends as it caps chunks.
func StreamedPatchLimit(limit int64) Quirk {
	return patchLimit("streamed-patch-limit", limit, false)
}

func patchLimit(name string, limit int64, rangedOnly bool) Quirk {
	return Quirk{Name: name, serve: func(p *QuirkProxy, w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPatch || rangedOnly && r.Header.Get("Content-Range") == "" {
			return false
		}
		head, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		if int64(len(head)) <= limit {
			// Under the limit: on to the registry with what was read.
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(head), r.Body))
			return false
		}
		_, _ = io.Copy(io.Discard, r.Body) // the rest, so the reply is read
		p.count(name)
		registryError(w, http.StatusRequestedRangeNotSatisfiable, "REQUESTED_RANGE_NOT_SATISFIABLE", ghcr416)
		return true
	}}
}

// PatchDropsTail forwards only the first keep bytes of each PATCH body
// to the registry and answers as if all of it were stored (a Range to
// its end), as ECR answered chunked PATCHes while dropping all but the
// first chunk (aws/containers-roadmap#2831).
func PatchDropsTail(keep int64) Quirk {
	const name = "patch-drops-tail"
	return Quirk{Name: name, serve: func(p *QuirkProxy, w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPatch {
			return false
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		if int64(len(body)) <= keep {
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			return false
		}
		p.count(name)
		h := r.Header.Clone()
		h.Del("Content-Range")
		out := r.Clone(r.Context())
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body[:keep])), keep
		resp, err := p.forward(out, p.upstream.Scheme+"://"+p.upstream.Host+r.URL.RequestURI(), h)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return true
		}
		defer resp.Body.Close()
		p.rewriteLocation(resp.Header)
		if resp.StatusCode/100 == 2 {
			resp.Header.Set("Range", fmt.Sprintf("0-%d", len(body)-1))
		}
		relay(w, resp)
		return true
	}}
}
