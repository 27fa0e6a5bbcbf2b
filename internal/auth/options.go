package auth

import (
	"errors"
	"io"
	"log/slog"
)

// Option configures New.
type Option func(*options) error

type options struct {
	getenv       func(string) string
	mask         func(secret string)
	githubToken  string
	registryAuth []Entry
	logger       *slog.Logger
}

func defaultOptions() options {
	return options{
		getenv: func(string) string { return "" },
		mask:   func(string) {},
		logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// WithGetenv sets the source of environment variables (HOME, DOCKER_CONFIG,
// CI_*, GITHUB_*, ...). Default: a function that returns "" for every name,
// so a keychain built without it sees an empty environment.
func WithGetenv(getenv func(string) string) Option {
	return func(o *options) error {
		if getenv == nil {
			return errors.New("auth: WithGetenv: nil function")
		}
		o.getenv = getenv
		return nil
	}
}

// WithMask sets the function that every secret is passed to, once, as soon as
// it is read; the action turns it into ::add-mask::. Default: no-op.
func WithMask(mask func(secret string)) Option {
	return func(o *options) error {
		if mask == nil {
			return errors.New("auth: WithMask: nil function")
		}
		o.mask = mask
		return nil
	}
}

// WithGitHubToken sets the github-token input. It is offered to ghcr.io and
// the GitHub Enterprise container host only. Default "": fall back to
// GITHUB_TOKEN, named as such in Source and Explain; callers pass the input
// as given and leave that fallback here.
func WithGitHubToken(token string) Option {
	return func(o *options) error {
		o.githubToken = token
		return nil
	}
}

// WithRegistryAuth sets the parsed registry-auth input (see
// ParseRegistryAuth); its entries take precedence over every other source at
// the same path length. Default: none.
func WithRegistryAuth(entries []Entry) Option {
	return func(o *options) error {
		// New masks and validates the entries, so that a password is masked
		// even when its entry is rejected.
		o.registryAuth = append([]Entry(nil), entries...)
		return nil
	}
}

// WithLogger sets where the keychain logs, at debug level, which source
// answered for which resource; it never logs a secret. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("auth: WithLogger: nil logger")
		}
		o.logger = l
		return nil
	}
}
