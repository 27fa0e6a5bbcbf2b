// Package stack builds the HTTP transport under every registry request
// oci-assemble makes, from the network up:
//
//   - a dial guard: a request a registry sends to another host (a
//     redirect, an upload Location, a token realm) connects to no address
//     more internal than the registry's own (see dialGuard);
//   - a plain-HTTP guard: only registries listed as insecure are reached
//     without TLS (go-containerregistry tries plain HTTP for loopback and
//     RFC 1918 addresses on its own, and a release pipeline must not send
//     credentials or accept content that way unless it was asked to);
//   - upload progress lines (layer, bytes of total, percent and rate, at
//     most every 5 s and every 10%);
//   - one ping per registry (GET /v2/ answered from the first answer);
//   - retries (package retry);
//   - above them, no ping at all for registries the keychain has no
//     credential for: the first real request learns the auth scheme.
package stack

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
	"github.com/oci-assemble/oci-assemble/internal/oci/retry"
)

// Stack is the transport chain and the keychain that goes with it.
type Stack struct {
	// Retry retries every request; below authentication. Callers that
	// authenticate with their own keychain (cleanup) use it directly,
	// with Retry.RemoteOptions.
	Retry *retry.Transport
	// Keychain is the keychain given to New, watched for the hosts it has
	// no credential for. Use it with Lazy.
	Keychain authn.Keychain
	// Lazy sits above Retry and answers the ping of registries Keychain
	// has no credential for.
	Lazy http.RoundTripper
}

// New builds the stack on base (the network) for keychain; insecure lists
// the plain-HTTP registries, logger gets progress and retry lines,
// userAgent names the client, record (when not nil) gets the credential
// of every request that carries one (sentCredentials), and retryOpts tune
// package retry.
func New(base http.RoundTripper, keychain authn.Keychain, insecure hosts.Insecure, logger *slog.Logger, userAgent string, record func(string), retryOpts ...retry.Option) (*Stack, error) {
	var network http.RoundTripper = &schemeGuard{inner: newDialGuard(base, insecure), insecure: insecure}
	if record != nil {
		network = &sentCredentials{inner: network, record: record}
	}
	// Retries sit outside the progress log so that it sees each attempt
	// and counts only the bytes of the one that succeeded.
	rt, err := retry.New(&pingCache{inner: &progressTransport{
		inner:  network,
		logger: logger,
	}}, append([]retry.Option{retry.WithLogger(logger)}, retryOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("WithRetry: %w", err)
	}
	creds := &credentialLog{inner: keychain, hosts: map[string]bool{}}
	return &Stack{Retry: rt, Keychain: creds, Lazy: newLazyPing(rt, creds, insecure, userAgent)}, nil
}

// Repository returns <name> of a registry API path (see repository).
func Repository(path string) (string, bool) { return repository(path) }
