package retry

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// RemoteOptions are the go-containerregistry options that go with t,
// beside remote.WithTransport(t): they switch off ggcr's retry of single
// requests, which t replaces, and keep its retry of whole upload sessions
// for the failures only a new session can fix (levels 2 and 3 in the
// package doc).
func (t *Transport) RemoteOptions() []remote.Option {
	return []remote.Option{
		// Statuses listed here would be retried again on top of t: none.
		remote.WithRetryStatusCodes(),
		remote.WithRetryPredicate(t.newSession),
		remote.WithRetryBackoff(remote.Backoff{
			Duration: 100 * time.Millisecond,
			Factor:   2,
			Jitter:   0.5,
			Steps:    t.o.sessions,
		}),
	}
}

// newSession is the remote.WithRetryPredicate predicate, asked about the
// error of a single request (level 2) and of a whole upload session
// (level 3). It is true only for what t could not retry itself, so
// nothing t gave up on is tried again.
func (t *Transport) newSession(err error) bool {
	if err == nil || !sessionHelps(err) {
		return false
	}
	// It can be asked after the last session too: it cannot promise one.
	t.o.logger.Warn("upload session failed; a new one starts unless all were used", "error", describe(err))
	return true
}

func sessionHelps(err error) bool {
	if errors.Is(err, ErrNotRewindable) {
		return true
	}
	var te *transport.Error
	if !errors.As(err, &te) || te.Request == nil || !isUploadPath(te.Request.URL) {
		return false
	}
	if retryableStatus(te.StatusCode) && !Rewindable(te.Request) {
		return true // t returned it at once: its body was spent
	}
	if te.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		return true
	}
	// What a replayed PATCH or PUT meets when its first try reached the
	// registry after all: the session moved on, or holds the data twice.
	for _, d := range te.Errors {
		switch d.Code {
		case transport.BlobUploadUnknownErrorCode, transport.BlobUploadInvalidErrorCode,
			transport.DigestInvalidErrorCode, transport.SizeInvalidErrorCode:
			return true
		}
	}
	return false
}

// Sessions runs fn, one whole upload session of a blob, and runs it again
// while its error is one only a new session can fix (a body that could
// not be sent again met a retryable failure, or the registry says the
// session is gone or broken), at most WithUploadSessions times in all,
// with the transport's backoff between sessions. It is for our own
// writer's uploads the level RemoteOptions configures for ggcr's writers
// (level 3 in the package doc).
func (t *Transport) Sessions(ctx context.Context, fn func() error) error {
	for n := 1; ; n++ {
		err := fn()
		if err == nil || n >= t.o.sessions || ctx.Err() != nil || !sessionHelps(err) {
			return err
		}
		wait := t.backoff(n)
		t.o.logger.Warn("upload session failed; starting a new one", "error", describe(err),
			"wait", wait.Round(time.Millisecond).String(), "session", n+1)
		if err := t.o.clock.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}
