// Package client is the one registry client of a run: the transport
// stack (retries, the dial guard, progress lines, one ping per registry),
// the keychain, the Puller every read goes through, the Pusher every write
// goes through, the plain-HTTP registries, and the concurrency limit. It is
// built once, from the spec, and every step of the flow (sources, targets,
// cleanup) takes it.
package client

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
	"github.com/oci-assemble/oci-assemble/internal/oci/push"
	"github.com/oci-assemble/oci-assemble/internal/oci/retry"
	"github.com/oci-assemble/oci-assemble/internal/oci/stack"
)

// Option configures a Client.
type Option func(*options) error

type options struct {
	keychain  authn.Keychain
	transport http.RoundTripper
	insecure  []string // built into a hosts.Insecure by New
	jobs      int
	logger    *slog.Logger
	userAgent string
	retry     []retry.Option
	// sent gets every credential a request carries (WithSentCredentials).
	sent func(string)
	// createTemp makes a docker archive's temporary file; nil is
	// os.CreateTemp. Tests watch the file through it.
	createTemp func(dir, pattern string) (*os.File, error)
}

// WithKeychain sets where registry credentials come from. Default: anonymous.
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) error {
		if k == nil {
			return fmt.Errorf("WithKeychain: nil keychain")
		}
		o.keychain = k
		return nil
	}
}

// WithTransport sets the HTTP transport for registry requests; retries
// and the plain-HTTP guard wrap it. Default: remote.DefaultTransport
// (HTTPS with the system's roots, which honour SSL_CERT_FILE).
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		if rt == nil {
			return fmt.Errorf("WithTransport: nil transport")
		}
		o.transport = rt
		return nil
	}
}

// WithInsecureRegistries lists host:port registries that may be reached over
// plain HTTP. Default: none — every registry is HTTPS with verification,
// including loopback and private addresses, which go-containerregistry
// would otherwise retry over HTTP.
//
// A reference enters the client through Repository, which marks those on
// such a host for plain HTTP (go-containerregistry tries a DNS name over
// HTTPS alone unless its reference is marked), so callers may parse them
// as they like.
func WithInsecureRegistries(registries []string) Option {
	return func(o *options) error {
		o.insecure = append(o.insecure, registries...)
		return nil
	}
}

// WithJobs bounds how much runs at once: in each step of the run (sources
// read, layers built, targets, tags), and across the whole run the blob
// uploads and mounts in flight (push.WithTransfers). Default 8: on a real
// network a join waits on round trips more than on bytes (see
// docs/benchmarks.md).
func WithJobs(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("WithJobs: %d, want at least 1", n)
		}
		o.jobs = n
		return nil
	}
}

// WithLogger sets the logger for progress lines. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("WithLogger: nil logger")
		}
		o.logger = l
		return nil
	}
}

// WithSentCredentials gives record the credential of every registry
// request that carries one, as it is sent: the part of its Authorization
// header after the scheme, a Basic credential or a bearer token a token
// service issued, which no input names. The caller keeps them out of what
// it prints, since a registry may echo them back. Default: none recorded.
func WithSentCredentials(record func(string)) Option {
	return func(o *options) error { o.sent = record; return nil }
}

// WithUserAgent sets the User-Agent prefix. Default "oci-assemble".
func WithUserAgent(ua string) Option {
	return func(o *options) error { o.userAgent = ua; return nil }
}

// WithRetry tunes how registry requests are retried; later options win.
// Default: up to 5 attempts per request within 2 minutes, full-jitter
// backoff from 500ms to 15s, Retry-After honoured up to 30s, a 404 on a
// manifest or blob just written retried for 10s, 3 upload sessions per
// blob, one log line per retry on WithLogger's logger.
func WithRetry(opts ...retry.Option) Option {
	return func(o *options) error {
		o.retry = append(o.retry, opts...)
		return nil
	}
}

// WithCreateTemp makes the temporary files of docker archives; nil is
// os.CreateTemp. For tests that watch those files.
func WithCreateTemp(create func(dir, pattern string) (*os.File, error)) Option {
	return func(o *options) error { o.createTemp = create; return nil }
}

// Client is the registry client of a run.
type Client struct {
	o options
	// retry retries every registry request; see package retry for how it
	// shares the work with go-containerregistry's own retries.
	retry *retry.Transport
	// keychain is o.keychain, watched for the hosts it has no credential
	// for; lazy, above retry, spares those hosts the ping.
	keychain authn.Keychain
	lazy     http.RoundTripper
	// puller keeps one authenticated transport per repository for every
	// read, instead of a ping and token per call.
	puller   *remote.Puller
	insecure hosts.Insecure
	// pusher is the one write path: one writer per target repository.
	pusher *push.Pusher
}

// New returns a Client.
func New(opts ...Option) (*Client, error) {
	o := options{
		keychain:  authn.NewMultiKeychain(), // resolves to anonymous
		transport: remote.DefaultTransport,
		jobs:      8,
		logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		userAgent: "oci-assemble",
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	c := &Client{o: o, insecure: hosts.NewInsecure(o.insecure...)}
	st, err := stack.New(o.transport, o.keychain, c.insecure, o.logger, o.userAgent, o.sent, o.retry...)
	if err != nil {
		return nil, err
	}
	c.retry, c.keychain, c.lazy = st.Retry, st.Keychain, st.Lazy
	if c.puller, err = remote.NewPuller(c.RemoteOptions(context.Background())...); err != nil {
		return nil, err
	}
	// One limit for the run: each step bounds its own goroutines by jobs,
	// and they nest (targets, repositories, blobs); the blob transfers
	// they start are bounded by jobs across all of them.
	c.pusher, err = push.New(push.WithKeychain(c.keychain), push.WithTransport(c.lazy),
		push.WithSessions(c.retry.Sessions), push.WithLogger(o.logger), push.WithTransfers(o.jobs))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// RemoteOptions are the options of every registry call; ctx is the
// default context of calls that take none.
func (c *Client) RemoteOptions(ctx context.Context) []remote.Option {
	return append([]remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithTransport(c.lazy),
		remote.WithJobs(c.o.jobs),
		remote.WithUserAgent(c.o.userAgent),
	}, c.retry.RemoteOptions()...)
}

// Repository is how a repository enters the client: marked for plain
// HTTP when its registry is one of WithInsecureRegistries.
func (c *Client) Repository(r name.Repository) name.Repository { return c.insecure.Repository(r) }

// Insecure is the set of plain-HTTP registries.
func (c *Client) Insecure() hosts.Insecure { return c.insecure }

// Jobs is the concurrency limit of each step of the run.
func (c *Client) Jobs() int { return c.o.jobs }

// Logger is where progress lines go.
func (c *Client) Logger() *slog.Logger { return c.o.logger }

// Puller reads manifests, configs and blobs.
func (c *Client) Puller() *remote.Puller { return c.puller }

// Pusher writes: one writer per repository.
func (c *Client) Pusher() *push.Pusher { return c.pusher }

// Keychain is the keychain requests authenticate with.
func (c *Client) Keychain() authn.Keychain { return c.keychain }

// Transport is the HTTP transport under every registry call (retries,
// plain-HTTP guard, progress lines, one ping per registry), for requests
// that are not a registry's: cleanup's vendor APIs and the Sigstore
// services. Registry reads go through RemoteOptions, Puller and Pull.
func (c *Client) Transport() http.RoundTripper { return c.retry }

// CreateTemp makes a temporary file for a docker archive.
func (c *Client) CreateTemp(dir, pattern string) (*os.File, error) {
	if c.o.createTemp != nil {
		return c.o.createTemp(dir, pattern)
	}
	return os.CreateTemp(dir, pattern)
}

// Pull is an HTTP client authenticated to pull from repo, for endpoints
// the Puller does not expose (the referrers API).
func (c *Client) Pull(ctx context.Context, repo name.Repository) (*http.Client, error) {
	auth, err := authn.Resolve(ctx, c.keychain, repo)
	if err != nil {
		return nil, &CredentialsError{Repo: repo, Err: err}
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, c.lazy, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: rt}, nil
}

// CredentialsError is a keychain that failed to give repo's credential.
type CredentialsError struct {
	Repo name.Repository
	Err  error
}

func (e *CredentialsError) Error() string {
	return fmt.Sprintf("credentials for %s: %v", e.Repo, e.Err)
}
func (e *CredentialsError) Unwrap() error { return e.Err }
