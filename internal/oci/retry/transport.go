package retry

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
)

// Transport retries registry requests; see the package doc for what it
// retries and what it leaves to the upload-session level above it.
type Transport struct {
	inner  http.RoundTripper
	o      options
	writes writeLog
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a Transport sending requests through inner.
func New(inner http.RoundTripper, opts ...Option) (*Transport, error) {
	if inner == nil {
		return nil, errors.New("retry.New: nil transport")
	}
	o := defaults()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	return &Transport{inner: inner, o: o}, nil
}

// outcome is what one attempt calls for.
type outcome int

const (
	final      outcome = iota // return it: success or a real answer
	transient                 // 408, 429, 5xx or a connection failure
	notYetRead                // 404 on something this Transport wrote
)

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	b := budget{start: t.o.clock.Now()}
	cur := req
	for {
		resp, err := t.inner.RoundTrip(cur)
		var head []byte
		if err == nil && resp.StatusCode >= 400 {
			// Callers read an error body after RoundTrip (for ggcr,
			// transport.CheckError), where a cut would escape every retry:
			// read it here, where a cut is a connection failure like any
			// other.
			if head, err = bufferBody(resp); err != nil {
				resp = nil
			}
		}
		out := t.classify(cur, resp, head, err)
		if out == final {
			if err == nil {
				t.writes.observe(cur, resp)
				t.resumable(cur, resp)
			}
			return resp, err
		}
		if !Rewindable(req) {
			// The body is spent: only a new upload session can send it
			// again, and that is the caller's to start (level 3 in the
			// package doc).
			if err != nil {
				return nil, &notRewindableError{err: err}
			}
			return resp, nil
		}
		wait, ok := t.wait(&b, out, resp)
		if !ok {
			return resp, err
		}

		t.logRetry(req, resp, err, out, wait, b.failures+b.lagTries+1)
		if resp != nil {
			discard(resp)
		}
		if err := t.o.clock.Sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		if cur, err = rewind(req); err != nil {
			return nil, err
		}
	}
}

// budget is what one request has spent on retries.
type budget struct {
	start    time.Time
	failures int       // transient outcomes
	lagTries int       // read-after-write retries
	lagStart time.Time // the first read-after-write 404
}

// wait returns how long to wait before the next attempt, or false when
// the request's attempts or time are spent.
func (t *Transport) wait(b *budget, out outcome, resp *http.Response) (time.Duration, bool) {
	now := t.o.clock.Now()
	var wait time.Duration
	switch out {
	case transient:
		b.failures++
		if b.failures >= t.o.attempts {
			return 0, false
		}
		wait = t.backoff(b.failures)
		if resp != nil {
			if ra, ok := retryAfter(resp.Header.Get("Retry-After"), now); ok {
				wait = min(ra, t.o.retryAfterCap)
			}
		}
	case notYetRead:
		if b.lagStart.IsZero() {
			b.lagStart = now
		}
		b.lagTries++
		wait = t.backoff(b.lagTries)
		if now.Add(wait).Sub(b.lagStart) > t.o.readAfterWrite {
			return 0, false
		}
	}
	return wait, now.Add(wait).Sub(b.start) <= t.o.maxElapsed
}

// classify decides what one attempt calls for; head is the start of an
// error response's body.
func (t *Transport) classify(req *http.Request, resp *http.Response, head []byte, err error) outcome {
	switch {
	case err != nil:
		if retryableError(req.Context(), err) {
			return transient
		}
	case retryableStatus(resp.StatusCode):
		return transient
	case resp.StatusCode == http.StatusForbidden && hosts.RateLimited(string(head)):
		return transient
	case resp.StatusCode == http.StatusNotFound && t.o.readAfterWrite > 0 && t.writes.wrote(req):
		return notYetRead
	}
	return final
}

// backoff is the full-jitter wait before retry n (from 1).
func (t *Transport) backoff(n int) time.Duration {
	ceil := t.o.base
	for i := 1; i < n && ceil < t.o.max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, t.o.max)
	return time.Duration(t.o.rand.int64N(int64(ceil)))
}

func (t *Transport) logRetry(req *http.Request, resp *http.Response, err error, out outcome, wait time.Duration, attempt int) {
	attrs := []slog.Attr{slog.String("method", req.Method), slog.String("path", req.URL.Path)}
	switch {
	case err != nil:
		attrs = append(attrs, slog.String("error", describe(err)))
	case out == notYetRead:
		attrs = append(attrs, slog.Int("status", resp.StatusCode), slog.String("reason", "read after write"))
	default:
		attrs = append(attrs, slog.Int("status", resp.StatusCode))
	}
	attrs = append(attrs, slog.String("wait", wait.Round(time.Millisecond).String()), slog.Int("attempt", attempt))
	t.o.logger.LogAttrs(req.Context(), slog.LevelWarn, "retrying registry request", attrs...)
}

// rewind returns req ready to be sent again, with a fresh body.
func rewind(req *http.Request) (*http.Request, error) {
	next := req.Clone(req.Context())
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		next.Body = body
	}
	return next, nil
}

// maxErrorBody bounds what is read of an error response's body. An error
// document (distribution-spec "Error Codes") is a few hundred bytes; the
// rest of a larger body is dropped unread, so that a registry answering
// an error with gigabytes cannot make a caller that reads it all
// (transport.CheckError does) hold them in memory.
const maxErrorBody = 64 << 10

// bufferBody reads resp's body into memory, up to maxErrorBody, so that a
// connection cut in it shows up now, returns what it read, and leaves
// resp with that as its body. It closes the body.
func bufferBody(resp *http.Response) ([]byte, error) {
	buf, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close() // all read, or the rest dropped
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(buf))
	if resp.ContentLength > int64(len(buf)) {
		resp.ContentLength = int64(len(buf))
	}
	return buf, nil
}

// discard reads a little of a response that will not be returned, so
// its connection can be reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10) // best effort: the answer is already decided
	resp.Body.Close()
}
