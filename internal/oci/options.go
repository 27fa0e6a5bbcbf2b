package oci

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
	"github.com/oci-assemble/oci-assemble/internal/oci/push"
	"github.com/oci-assemble/oci-assemble/internal/oci/retry"
	"github.com/oci-assemble/oci-assemble/internal/oci/stack"
)

// Option configures an Assembler.
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
// The Assembler marks every reference of a plan to such a host for plain
// HTTP itself (go-containerregistry tries a DNS name over HTTPS alone
// unless its reference is marked), so callers may parse them as they like.
func WithInsecureRegistries(registries []string) Option {
	return func(o *options) error {
		o.insecure = append(o.insecure, registries...)
		return nil
	}
}

// WithJobs bounds how much runs at once: sources read, layers built,
// uploads per repository, targets, tags. Default 8: on a real network a
// join waits on round trips more than on bytes, and the 16 blob copies
// of an 8-platform join then go in two waves instead of four.
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

// Assembler joins images into an index and publishes it.
type Assembler struct {
	o options
	// transport retries every registry request; see package retry for
	// how it shares the work with go-containerregistry's own retries.
	transport *retry.Transport
	// keychain is o.keychain, watched for the hosts it has no credential
	// for; lazy, above transport, spares those hosts the ping.
	keychain authn.Keychain
	lazy     http.RoundTripper
	// puller keeps one authenticated transport per repository for every
	// read of a source, instead of a ping and token per call.
	puller *remote.Puller
	// insecure marks every reference to a plain-HTTP registry, so a
	// caller's unmarked reference reaches it too.
	insecure hosts.Insecure
	// pusher is the one write path: one writer per target repository.
	pusher *push.Pusher
}

// New returns an Assembler.
func New(opts ...Option) (*Assembler, error) {
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
	a := &Assembler{o: o}
	a.insecure = hosts.NewInsecure(o.insecure...)
	st, err := stack.New(o.transport, o.keychain, a.insecure, o.logger, o.userAgent, o.sent, o.retry...)
	if err != nil {
		return nil, err
	}
	a.transport, a.keychain, a.lazy = st.Retry, st.Keychain, st.Lazy
	if a.puller, err = remote.NewPuller(a.remoteOptions(context.Background())...); err != nil {
		return nil, err
	}
	a.pusher, err = push.New(push.WithKeychain(a.keychain), push.WithTransport(a.lazy),
		push.WithSessions(a.transport.Sessions), push.WithLogger(o.logger))
	if err != nil {
		return nil, err
	}
	return a, nil
}

// remoteOptions are the options of every registry call; ctx is the
// default context of calls that take none.
func (a *Assembler) remoteOptions(ctx context.Context) []remote.Option {
	return append([]remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(a.keychain),
		remote.WithTransport(a.lazy),
		remote.WithJobs(a.o.jobs),
		remote.WithUserAgent(a.o.userAgent),
	}, a.transport.RemoteOptions()...)
}
