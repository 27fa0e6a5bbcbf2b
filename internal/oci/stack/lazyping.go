package stack

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
	"github.com/oci-assemble/oci-assemble/internal/oci/retry"
)

// credentialLog is the client's keychain: it resolves through the
// keychain it was given and remembers, per registry host, whether any
// resolution so far gave a credential. lazyPing asks it.
type credentialLog struct {
	inner authn.Keychain

	mu    sync.Mutex
	hosts map[string]bool // host → a credential was resolved for it
}

var (
	_ authn.Keychain        = (*credentialLog)(nil)
	_ authn.ContextKeychain = (*credentialLog)(nil)
)

// Resolve implements authn.Keychain.
func (k *credentialLog) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

// ResolveContext implements authn.ContextKeychain.
func (k *credentialLog) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	auth, err := authn.Resolve(ctx, k.inner, r)
	if err != nil {
		return nil, err
	}
	cred := !isAnonymous(ctx, auth)
	host := strings.ToLower(r.RegistryStr())
	k.mu.Lock()
	k.hosts[host] = k.hosts[host] || cred
	k.mu.Unlock()
	return auth, nil
}

// anonymousOnly reports whether host was resolved, every time to no
// credential.
func (k *credentialLog) anonymousOnly(host string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	cred, seen := k.hosts[host]
	return seen && !cred
}

func isAnonymous(ctx context.Context, auth authn.Authenticator) bool {
	if auth == authn.Anonymous {
		return true
	}
	// An authenticator that fails here fails again when the push or pull
	// asks it: it counts as a credential, so the real ping goes out and
	// the error is reported where the credential is used.
	cfg, err := authn.Authorization(ctx, auth)
	return err == nil && cfg != nil && *cfg == (authn.AuthConfig{})
}

// lazyPing spares registries the keychain has no credential for the
// ping: the GET /v2/ (distribution-spec end-1,
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#endpoints)
// that transport.NewWithContext sends for each repository to learn the
// auth scheme before its first request.
//
// Token auth needs no ping: a registry answers any request it refuses
// with 401 and the challenge (RFC 7235 section 3.1; the token flow,
// https://distribution.github.io/distribution/spec/auth/token/, starts
// from "attempt to begin a push/pull operation"). Without a credential
// the ping can only say "open" or "bearer with an anonymous token", so
// lazyPing answers it with a 200 itself, and when a request then meets a
// Bearer challenge it builds the token transport from that challenge
// (transport.NewWithContext with authn.Anonymous and the challenge's
// scope) and sends the request again through it. The 401 costs what the
// ping would have (repositories first read at the same time each meet
// it, as they each sent a ping before pingCache held an answer). Later
// pings of that registry are answered with the challenge, so a token is
// fetched before the first request as after a real ping. A host with a
// credential gets the real ping (through pingCache): its scheme says how
// the credential is sent.
//
// Only the scheme that would be used is answered. transport.Ping tries
// HTTPS and, for a name that allows it (name.Insecure, or a loopback or
// private address by name.Registry.Scheme), plain HTTP too, and takes an
// answer from either. For a host listed insecure the HTTPS ping goes out:
// a plain-HTTP server fails it at TLS level without serving a request,
// and only then is the HTTP ping answered here; a TLS server answers it,
// and that answer is used. Other hosts are HTTPS: their HTTPS ping is
// answered here, at once, so it is the answer taken.
//
// It sits above the retry transport rather than beside pingCache below
// it, so that the token requests and the request sent again are retried
// like any other, and so that Assembler.Transport, the chain below, keeps
// the real ping for callers resolving credentials with their own keychain.
type lazyPing struct {
	inner     http.RoundTripper // the retrying chain; never this one
	creds     *credentialLog
	insecure  hosts.Insecure
	userAgent string

	mu         sync.Mutex
	lazy       map[string]bool        // scheme://host whose ping was answered here
	plain      map[string]bool        // insecure host whose last HTTPS ping met plain HTTP
	challenges map[string]*cachedPing // scheme://host → the Bearer challenge it sent
	bearers    map[string]*lazyBearer // scheme://host/repository → its token transport
}

// lazyBearer is the token transport of one repository. One per host
// would do, since the transport transport.NewWithContext returns asks for
// a new token with the scope of each 401 it meets; but repositories first
// read at the same time each meet the challenge anyway, and on a shared
// transport would each meet it a second time for their own scope.
type lazyBearer struct {
	mu sync.Mutex // held while the first token is fetched
	rt http.RoundTripper
}

func newLazyPing(inner http.RoundTripper, creds *credentialLog, insecure hosts.Insecure, userAgent string) *lazyPing {
	return &lazyPing{
		inner: inner, creds: creds, insecure: insecure, userAgent: userAgent,
		lazy: map[string]bool{}, plain: map[string]bool{},
		challenges: map[string]*cachedPing{}, bearers: map[string]*lazyBearer{},
	}
}

// okPing is a registry's answer to a ping that needs no auth.
func okPing() *cachedPing {
	return &cachedPing{
		status: http.StatusOK,
		header: http.Header{
			"Content-Type":                    {"application/json"},
			"Docker-Distribution-Api-Version": {"registry/2.0"},
		},
		body: []byte("{}"),
	}
}

// RoundTrip implements http.RoundTripper.
func (p *lazyPing) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, ok := RegistryOf(req.Context()); !ok && req.Response == nil {
		// The token request a 401 here leads to acts for this registry:
		// a realm on another host is held to the registry's reach.
		req = req.WithContext(WithRegistry(req.Context(), req.URL.Host))
	}
	if req.Header.Get("Authorization") != "" {
		return p.inner.RoundTrip(req)
	}
	host := strings.ToLower(req.URL.Host)
	if req.Method == http.MethodGet && req.URL.Path == "/v2/" {
		return p.ping(req, host)
	}
	site := req.URL.Scheme + "://" + host
	repo, ok := repository(req.URL.Path)
	p.mu.Lock()
	lazy, b := p.lazy[site], p.bearers[site+"/"+repo]
	p.mu.Unlock()
	if !ok || !lazy {
		return p.inner.RoundTrip(req)
	}
	if b != nil {
		b.mu.Lock()
		rt := b.rt
		b.mu.Unlock()
		if rt != nil {
			// The token transport sets Authorization on the request it is
			// given; a RoundTripper must not modify its caller's request.
			return rt.RoundTrip(req.Clone(req.Context()))
		}
	}
	resp, err := p.inner.RoundTrip(req)
	if err != nil {
		if req.URL.Scheme == "https" && !p.insecure.Has(host) && servesPlainHTTP(err) {
			// No ping failed to say so, as it would have.
			return nil, fmt.Errorf("%w to %s: it answers HTTPS in plain HTTP; if it serves plain HTTP, list it in insecure-registries: %w", ErrPlainHTTP, req.URL.Host, err)
		}
		return nil, err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		return resp, nil
	}
	return p.upgrade(req, resp, site, repo)
}

// ping answers the ping (GET /v2/) for a host without credentials, or
// sends it on.
func (p *lazyPing) ping(req *http.Request, host string) (*http.Response, error) {
	if !p.creds.anonymousOnly(host) {
		return p.inner.RoundTrip(req)
	}
	switch scheme := req.URL.Scheme; {
	case scheme == "https" && p.insecure.Has(host):
		p.mu.Lock()
		plain := p.plain[host]
		p.mu.Unlock()
		if plain {
			// Its first HTTPS ping met plain HTTP: each repository's
			// transport pings again, and the answer would be the same.
			return nil, fmt.Errorf("%s: %w (its first ping met plain HTTP)", host, http.ErrSchemeMismatch)
		}
		resp, err := p.inner.RoundTrip(req)
		p.mu.Lock()
		p.plain[host] = err != nil && servesPlainHTTP(err)
		p.mu.Unlock()
		return resp, err
	case scheme == "http":
		p.mu.Lock()
		plain := p.plain[host]
		p.mu.Unlock()
		if !p.insecure.Has(host) || !plain {
			// The plain-HTTP guard refuses the first; the second asks a
			// host whose HTTPS ping did not meet plain HTTP (it timed out,
			// or is still on its way): only a real answer can tell.
			return p.inner.RoundTrip(req)
		}
	}
	site := req.URL.Scheme + "://" + host
	p.mu.Lock()
	p.lazy[site] = true
	c := p.challenges[site]
	p.mu.Unlock()
	if c == nil {
		c = okPing()
	}
	return c.response(req), nil
}

// upgrade handles a 401 to a request sent without a ping: for a Bearer
// challenge it builds the token transport for the request's repository
// and sends the request again through it. Any other 401 is the answer.
func (p *lazyPing) upgrade(req *http.Request, resp *http.Response, site, repo string) (*http.Response, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxChallengeBody))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	c := &cachedPing{status: resp.StatusCode, header: resp.Header.Clone(), body: body}
	opts := []name.Option{name.WeakValidation}
	if req.URL.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(req.URL.Host, opts...)
	if err != nil {
		return resp, nil
	}
	from := &challengeFrom{scheme: req.URL.Scheme, c: c, inner: p.inner}
	// transport.Ping parses the challenge (RFC 7235 section 4.1), here
	// from the 401 at hand.
	ch, err := transport.Ping(req.Context(), reg, from)
	if err != nil || !strings.EqualFold(ch.Scheme, "bearer") {
		return resp, nil
	}

	p.mu.Lock()
	b := p.bearers[site+"/"+repo]
	if b == nil {
		b = &lazyBearer{}
		p.bearers[site+"/"+repo] = b
	}
	p.mu.Unlock()
	b.mu.Lock()
	if b.rt == nil {
		// The run's User-Agent, as on every other request; without
		// transport.NewUserAgent the token requests would carry ggcr's.
		rt, err := transport.NewWithContext(req.Context(), reg, authn.Anonymous,
			transport.NewUserAgent(from, p.userAgent), strings.Fields(ch.Parameters["scope"]))
		if err != nil {
			b.mu.Unlock()
			return nil, err
		}
		b.rt = rt
	}
	rt := b.rt
	b.mu.Unlock()
	p.mu.Lock()
	if p.challenges[site] == nil {
		p.challenges[site] = c
	}
	p.mu.Unlock()

	if !retry.Rewindable(req) {
		return resp, nil
	}
	again := req.Clone(req.Context())
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		if again.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	return rt.RoundTrip(again)
}

// maxChallengeBody bounds what is kept of a 401's body. An error document
// (distribution-spec "Error Codes") is a few hundred bytes.
const maxChallengeBody = 64 << 10

// challengeFrom is what the bearer transport built on a 401 sends
// through: it answers the ping with that 401, over the scheme the 401
// came by (transport.Ping may try HTTPS and HTTP; the other fails), and
// sends everything else, token requests included, below lazyPing: a
// token realm may be on the registry's own host, even under /v2/.
type challengeFrom struct {
	scheme string
	c      *cachedPing
	inner  http.RoundTripper
}

func (f *challengeFrom) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.URL.Path != "/v2/" || req.Header.Get("Authorization") != "" {
		return f.inner.RoundTrip(req)
	}
	if req.URL.Scheme != f.scheme {
		return nil, fmt.Errorf("%s answered its challenge over %s", req.URL.Host, f.scheme)
	}
	return f.c.response(req), nil
}

// repository returns <name> of a path /v2/<name>/manifests/<ref>,
// /v2/<name>/blobs/<digest>, /v2/<name>/blobs/uploads/[<id>],
// /v2/<name>/tags/list or /v2/<name>/referrers/<digest>. A name may
// itself have a component "blobs" or "manifests": the last match that
// leaves a well-formed rest wins.
func repository(path string) (string, bool) {
	p, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return "", false
	}
	best := -1
	for _, kind := range []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"} {
		i := strings.LastIndex(p, kind)
		if i <= 0 || i < best {
			continue
		}
		rest := p[i+len(kind):]
		switch kind {
		case "/blobs/":
			rest = strings.TrimPrefix(rest, "uploads/")
		case "/tags/":
			if rest != "list" {
				continue
			}
		}
		if rest == "" && kind != "/blobs/" || strings.Contains(rest, "/") {
			continue
		}
		best = i
	}
	if best < 0 {
		return "", false
	}
	return p[:best], true
}

// servesPlainHTTP reports whether an HTTPS request failed because the
// server answered in plain HTTP. http.Transport returns the TLS record
// error that http.Client turns into http.ErrSchemeMismatch.
func servesPlainHTTP(err error) bool {
	var rh tls.RecordHeaderError
	return errors.Is(err, http.ErrSchemeMismatch) ||
		errors.As(err, &rh) && string(rh.RecordHeader[:]) == "HTTP/"
}
