package registrytest

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// FaultKind is one way a FaultProxy fails a request.
type FaultKind int

const (
	// Fault503 answers 503 Service Unavailable; the registry never sees
	// the request.
	Fault503 FaultKind = iota
	// Fault502 forwards the request and answers 502 Bad Gateway instead
	// of the registry's reply: the write happened, the client cannot
	// know it.
	Fault502
	// Fault429 answers 429 Too Many Requests with Retry-After: 1; the
	// registry never sees the request.
	Fault429
	// FaultCutRequest reads part of the request body, then closes the
	// connection; the registry never sees the request.
	FaultCutRequest
	// FaultCutResponse forwards the request, then closes the connection
	// partway through the reply: after half the body for a reply with
	// one (a manifest or blob GET), before the status line otherwise.
	FaultCutResponse
	// Fault404AfterPut answers 404 to the first read(s) of a manifest
	// just PUT through the proxy, by the reference it was PUT with and by
	// its digest, as a replica lagging behind a write does. It is drawn
	// once per successful manifest PUT, not per request.
	Fault404AfterPut
)

// AllFaults returns every FaultKind.
func AllFaults() []FaultKind {
	return []FaultKind{Fault503, Fault502, Fault429, FaultCutRequest, FaultCutResponse, Fault404AfterPut}
}

func (k FaultKind) String() string {
	switch k {
	case Fault503:
		return "503"
	case Fault502:
		return "502-after-forward"
	case Fault429:
		return "429-retry-after"
	case FaultCutRequest:
		return "cut-request"
	case FaultCutResponse:
		return "cut-response"
	case Fault404AfterPut:
		return "404-after-put"
	}
	return "fault(" + strconv.Itoa(int(k)) + ")"
}

// FaultConfig says which faults a FaultProxy injects and how often.
type FaultConfig struct {
	// Seed makes the sequence of fault decisions repeatable: the same
	// seed and the same order of requests inject the same faults.
	Seed int64
	// Rate is the probability, from 0 to 1, that a request is failed
	// (and that a manifest PUT is followed by 404s, for Fault404AfterPut).
	Rate float64
	// Kinds are the faults to draw from, equally likely. Default: all.
	Kinds []FaultKind
	// LagReads is how many reads Fault404AfterPut answers with 404.
	// Default 1.
	LagReads int
	// Transport reaches the upstream registry. Default: a plain
	// http.Transport without proxy or compression (set one trusting the
	// registry's CA for an HTTPS upstream).
	Transport http.RoundTripper
}

// FaultProxy is a plain-HTTP reverse proxy on loopback in front of a
// registry that fails a seeded share of requests. It counts what it
// injected by kind.
//
// The /v2/ ping is failed like any other request: real registries and
// their CDNs fail it too, and the client's retries must cover it. That
// keeps token auth possible, because the token endpoint a 401 names is
// not behind the proxy; a client that cannot retry a ping should run at
// Rate 0.
type FaultProxy struct {
	*httptest.Server
	// Host is host:port, for references and insecure-registries.
	Host string

	upstream *url.URL
	cfg      FaultConfig
	drawn    []FaultKind // per-request kinds: Kinds without Fault404AfterPut
	lagKind  bool

	mu       sync.Mutex
	rng      *rand.Rand
	counts   map[FaultKind]int
	requests int
	seen     []string       // "METHOD /path" of every request, in order
	lagging  map[string]int // manifest path → 404s still to answer
}

// NewFaultProxy starts a FaultProxy in front of upstream until the test
// ends.
func NewFaultProxy(t testing.TB, upstream *url.URL, cfg FaultConfig) *FaultProxy {
	t.Helper()
	if cfg.Rate < 0 || cfg.Rate > 1 {
		t.Fatalf("NewFaultProxy: rate %v, want 0 to 1", cfg.Rate)
	}
	if len(cfg.Kinds) == 0 {
		cfg.Kinds = AllFaults()
	}
	if cfg.LagReads == 0 {
		cfg.LagReads = 1
	}
	if cfg.Transport == nil {
		tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16}
		t.Cleanup(tr.CloseIdleConnections)
		cfg.Transport = tr
	}
	p := &FaultProxy{
		upstream: upstream,
		cfg:      cfg,
		rng:      rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6f63692d61737365)),
		counts:   map[FaultKind]int{},
		lagging:  map[string]int{},
	}
	for _, k := range cfg.Kinds {
		if k == Fault404AfterPut {
			p.lagKind = true
		} else {
			p.drawn = append(p.drawn, k)
		}
	}
	p.Server = httptest.NewServer(p)
	p.Host = p.Listener.Addr().String()
	t.Cleanup(p.Close)
	return p
}

// Counts returns how many faults of each kind were injected so far.
func (p *FaultProxy) Counts() map[FaultKind]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[FaultKind]int, len(p.counts))
	for k, n := range p.counts {
		out[k] = n
	}
	return out
}

// Injected returns how many faults were injected in all.
func (p *FaultProxy) Injected() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.counts {
		n += c
	}
	return n
}

// Requests returns how many requests reached the proxy.
func (p *FaultProxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Seen lists every request so far as "METHOD /path", in arrival order.
func (p *FaultProxy) Seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

// ServeHTTP implements http.Handler.
func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind, inject := p.draw(r)
	if inject {
		switch kind {
		case Fault404AfterPut:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			if r.Method != http.MethodHead {
				io.WriteString(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown (injected lag)"}]}`)
			}
			return
		case Fault503:
			http.Error(w, "injected 503", http.StatusServiceUnavailable)
			return
		case Fault429:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "injected 429", http.StatusTooManyRequests)
			return
		case FaultCutRequest:
			if r.ContentLength != 0 {
				// Part of the body arrives; the registry sees none of it.
				io.CopyN(io.Discard, r.Body, max(r.ContentLength/2, 1))
			}
			hangUp(w)
			return
		}
	}

	resp, err := p.forward(r)
	if err != nil {
		// The registry itself failed: not an injected fault.
		http.Error(w, "fault proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	p.afterWrite(r, resp)

	switch {
	case inject && kind == Fault502:
		io.Copy(io.Discard, resp.Body)
		http.Error(w, "injected 502", http.StatusBadGateway)
	case inject && kind == FaultCutResponse:
		p.cutReply(w, r, resp)
	default:
		copyHeader(w.Header(), resp.Header)
		p.rewriteLocation(w.Header())
		w.WriteHeader(resp.StatusCode)
		if _, err := io.Copy(w, resp.Body); err != nil {
			// The registry's reply broke off: so must ours, or a chunked
			// reply would look complete.
			panic(http.ErrAbortHandler)
		}
	}
}

// draw decides the fault for r, counting it. Fault404AfterPut comes
// first, because it was decided when the manifest was PUT.
func (p *FaultProxy) draw(r *http.Request) (FaultKind, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	p.seen = append(p.seen, r.Method+" "+r.URL.Path)
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && p.lagging[r.URL.Path] > 0 {
		p.lagging[r.URL.Path]--
		p.counts[Fault404AfterPut]++
		return Fault404AfterPut, true
	}
	if len(p.drawn) == 0 || p.rng.Float64() >= p.cfg.Rate {
		return 0, false
	}
	k := p.drawn[p.rng.IntN(len(p.drawn))]
	p.counts[k]++
	return k, true
}

// afterWrite arms Fault404AfterPut for a manifest just PUT.
func (p *FaultProxy) afterWrite(r *http.Request, resp *http.Response) {
	if !p.lagKind || r.Method != http.MethodPut || resp.StatusCode/100 != 2 || !strings.Contains(r.URL.Path, "/manifests/") {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rng.Float64() >= p.cfg.Rate {
		return
	}
	p.lagging[r.URL.Path] = p.cfg.LagReads
	if d := resp.Header.Get("Docker-Content-Digest"); d != "" {
		i := strings.LastIndex(r.URL.Path, "/manifests/")
		p.lagging[r.URL.Path[:i]+"/manifests/"+d] = p.cfg.LagReads
	}
}

func (p *FaultProxy) forward(r *http.Request) (*http.Response, error) {
	u := *p.upstream
	u.Path, u.RawPath, u.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), r.Body)
	if err != nil {
		return nil, err
	}
	copyHeader(out.Header, r.Header)
	out.ContentLength = r.ContentLength
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	// The registry builds upload locations from Host: keep the proxy's,
	// so that clients come back through it.
	out.Host = r.Host
	return p.cfg.Transport.RoundTrip(out)
}

// cutReply forwards the start of the registry's reply and hangs up.
func (p *FaultProxy) cutReply(w http.ResponseWriter, r *http.Request, resp *http.Response) {
	body, err := io.ReadAll(resp.Body)
	if err != nil || r.Method == http.MethodHead || len(body) < 2 {
		hangUp(w)
		return
	}
	copyHeader(w.Header(), resp.Header)
	p.rewriteLocation(w.Header())
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	w.Write(body[:len(body)/2])
	if err := http.NewResponseController(w).Flush(); err != nil {
		return
	}
	hangUp(w)
}

// rewriteLocation points an absolute Location at the upstream back at the
// proxy, for registries configured with a fixed host name.
func (p *FaultProxy) rewriteLocation(h http.Header) {
	loc := h.Get("Location")
	if loc == "" {
		return
	}
	u, err := url.Parse(loc)
	if err != nil || u.Host != p.upstream.Host {
		return
	}
	u.Scheme, u.Host = "http", p.Host
	h.Set("Location", u.String())
}

// hangUp closes the client's connection without a (further) reply.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): aborting the handler resets the stream.
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// isHopByHop reports whether a header belongs to one connection and is
// not forwarded (RFC 9110 §7.6.1).
func isHopByHop(key string) bool {
	switch http.CanonicalHeaderKey(key) {
	case "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		if !isHopByHop(k) {
			dst[k] = append([]string(nil), vs...)
		}
	}
}
