package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Option configures a Pusher.
type Option func(*options) error

type options struct {
	keychain  authn.Keychain
	transport http.RoundTripper
	sessions  func(context.Context, func() error) error
	logger    *slog.Logger
	delete    bool
	// transfers, when set, bounds the blob transfers in flight across
	// every Writer of the Pusher (WithTransfers).
	transfers chan struct{}
}

// WithKeychain sets where credentials come from. Default: anonymous.
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) error {
		if k == nil {
			return errors.New("WithKeychain: nil keychain")
		}
		o.keychain = k
		return nil
	}
}

// WithTransport sets the transport the Writers' authentication wraps.
// Default: remote.DefaultTransport.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		if rt == nil {
			return errors.New("WithTransport: nil transport")
		}
		o.transport = rt
		return nil
	}
}

// WithSessions sets how an upload session that failed as a whole is run
// again (retry.Transport.Sessions). Default: once, no retry.
func WithSessions(run func(context.Context, func() error) error) Option {
	return func(o *options) error {
		if run == nil {
			return errors.New("WithSessions: nil function")
		}
		o.sessions = run
		return nil
	}
}

// WithLogger receives a line per blob already there and per refused
// mount. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("WithLogger: nil logger")
		}
		o.logger = l
		return nil
	}
}

// SmallBlob is the size under which a blob does not wait for a transfer
// slot (WithTransfers), nor for a job behind large layers: configs and
// small layers, which the manifests naming them wait for, go alongside.
const SmallBlob = 64 << 10

// WithTransfers bounds how many blob uploads and mounts of at least
// SmallBlob bytes are in flight at once across every Writer of the
// Pusher, whatever the callers' own concurrency: the run's one limit on
// what it sends, where each step's goroutines nest (targets,
// repositories, blobs). A transfer holds its slot for its upload sessions
// only; what it reads (a source's blob, a layer being built) takes none.
// Default: no bound of its own.
func WithTransfers(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("WithTransfers: %d, want at least 1", n)
		}
		o.transfers = make(chan struct{}, n)
		return nil
	}
}

// WithDelete asks for the delete action in every Writer's token, for a
// Pusher that deletes tags and manifests. Default false: push and pull.
func WithDelete() Option {
	return func(o *options) error { o.delete = true; return nil }
}

// Pusher owns one Writer per repository. It is safe for concurrent use.
type Pusher struct {
	o options

	mu      sync.Mutex
	writers map[string]*Writer // by repository
	failed  map[string]error   // by repository and scopes: see Writer
	counts  map[string]*counters
}

// New returns a Pusher.
func New(opts ...Option) (*Pusher, error) {
	o := options{
		keychain:  authn.NewMultiKeychain(), // resolves to anonymous
		transport: remote.DefaultTransport,
		sessions:  func(_ context.Context, f func() error) error { return f() },
		logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	return &Pusher{o: o, writers: map[string]*Writer{}, failed: map[string]error{}, counts: map[string]*counters{}}, nil
}

// Writer returns the Writer of repo, authenticated to push there and to
// pull from the repositories of mountFrom that are on repo's registry (a
// mount needs both in one token). A repository asked for again gets the
// same Writer unless it now needs a repository its token does not cover;
// then a Writer with the wider token replaces it. A Writer that could not
// be made is not tried again for the same repositories: the error is
// returned again, so that a refused credential is sent once, however many
// phases ask (the retry transport below has already retried what a
// second try could fix).
func (p *Pusher) Writer(ctx context.Context, repo name.Repository, mountFrom ...name.Repository) (*Writer, error) {
	var from []string
	for _, r := range mountFrom {
		if r.RegistryStr() == repo.RegistryStr() && r.String() != repo.String() && !slices.Contains(from, r.String()) {
			from = append(from, r.String())
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if w := p.writers[repo.String()]; w != nil && w.covers(from) {
		return w, nil
	}
	if w := p.writers[repo.String()]; w != nil {
		from = append(from, w.mountable...) // keep what it could mount
		slices.Sort(from)
		from = slices.Compact(from)
	}
	key := repo.String() + " " + strings.Join(slices.Sorted(slices.Values(from)), " ")
	if err := p.failed[key]; err != nil {
		return nil, err
	}
	w, err := p.newWriter(ctx, repo, from)
	if err != nil {
		if ctx.Err() == nil {
			p.failed[key] = err
		}
		return nil, err
	}
	w.counts = p.countersOf(repo)
	p.writers[repo.String()] = w
	return w, nil
}

func (p *Pusher) newWriter(ctx context.Context, repo name.Repository, from []string) (*Writer, error) {
	auth, err := authn.Resolve(ctx, p.o.keychain, repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", repo, err)
	}
	action := transport.PushScope
	if p.o.delete {
		action += ",delete"
	}
	scopes := []string{repo.Scope(action)}
	for _, f := range from {
		r, err := name.NewRepository(f, name.WeakValidation)
		if err != nil {
			return nil, err
		}
		scopes = append(scopes, r.Scope(transport.PullScope))
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, freshBody{p.o.transport}, scopes)
	if err != nil {
		return nil, fmt.Errorf("authenticating to %s: %w", repo, err)
	}
	return &Writer{o: &p.o, repo: repo, client: &http.Client{Transport: rt}, mountable: from}, nil
}

// freshBody gives every send of a request with GetBody a body of its
// own: an authenticating transport sends a request refused with a 401
// again after refreshing its token (RFC 6750 §3; the token flow of
// https://distribution.github.io/distribution/spec/auth/token/), and the
// first send consumed the body. Below it, every send starts from the
// beginning.
type freshBody struct{ inner http.RoundTripper }

func (f freshBody) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.GetBody == nil {
		return f.inner.RoundTrip(req)
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	if req.Body != nil {
		req.Body.Close()
	}
	out := req.Clone(req.Context()) // a RoundTripper must not modify its request
	out.Body = body
	return f.inner.RoundTrip(out)
}
