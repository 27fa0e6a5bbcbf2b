package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrNotRewindable is wrapped around a connection error on a request
// whose body could not be sent again, so the Transport returned it at the
// first failure. The upload-session level starts a new session for it:
// Transport.RemoteOptions for ggcr's writers, Transport.Sessions for ours.
var ErrNotRewindable = errors.New("request body cannot be sent again")

// notRewindableError keeps the connection error's own text and chain and
// adds ErrNotRewindable to it.
type notRewindableError struct{ err error }

func (e *notRewindableError) Error() string   { return e.err.Error() }
func (e *notRewindableError) Unwrap() []error { return []error{e.err, ErrNotRewindable} }

// Rewindable reports whether req can be sent again: it has no body, or
// GetBody can produce the body afresh.
func Rewindable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// retryableStatus reports whether a status says "not now" rather than
// "no": 408, 429 and the 5xx family except 501 and 505, which say the
// server will never do it.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return code >= 500 && code <= 599
}

// retryableError reports whether a transport error is a connection
// failure worth another attempt. A request whose own context ended is
// never retried; certificate and protocol errors are not transient.
func retryableError(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, net.ErrClosed):
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTimeout || dns.IsTemporary
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryAfter parses a Retry-After header (RFC 9110 §10.2.3): delta
// seconds or an HTTP date, the latter measured against now. A date in
// the past is a wait of 0.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		// Beyond a day it is nonsense and would overflow; any cap is lower.
		return time.Duration(min(secs, 86400)) * time.Second, true
	}
	t, err := http.ParseTime(h)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// object names what a registry path points at: a manifest by tag or
// digest, or a blob by digest. Upload sessions are not objects.
type object struct {
	host, repo, kind, ref string
}

// objectOf parses /v2/<name>/manifests/<ref> and /v2/<name>/blobs/<digest>.
func objectOf(u *url.URL) (object, bool) {
	p, ok := strings.CutPrefix(u.Path, "/v2/")
	if !ok {
		return object{}, false
	}
	for _, kind := range []string{"manifests", "blobs"} {
		i := strings.LastIndex(p, "/"+kind+"/")
		if i <= 0 {
			continue
		}
		ref := p[i+len(kind)+2:]
		if ref == "" || strings.Contains(ref, "/") {
			return object{}, false
		}
		return object{host: strings.ToLower(u.Host), repo: p[:i], kind: kind, ref: ref}, true
	}
	return object{}, false
}

// isUploadPath reports whether a path is a blob upload: the POST that
// starts a session or a PATCH or PUT to its location.
func isUploadPath(u *url.URL) bool {
	_, ok := uploadRepo(u)
	return ok
}

// contentAddressed reports whether ref is a digest, whose content cannot
// change between two reads.
func contentAddressed(ref string) bool {
	alg, hex, ok := strings.Cut(ref, ":")
	return ok && alg != "" && len(hex) >= 32
}

// describe renders an error for a log line without a URL's query, which
// can carry upload state or tokens: a *url.Error's inner error, and a
// registry error's method, path and diagnostics.
func describe(err error) string {
	var te *transport.Error
	if errors.As(err, &te) && te.Request != nil {
		var diags []string
		for _, d := range te.Errors {
			diags = append(diags, string(d.Code))
		}
		s := fmt.Sprintf("%s %s: status %d", te.Request.Method, te.Request.URL.Path, te.StatusCode)
		if len(diags) > 0 {
			s += " " + strings.Join(diags, ", ")
		}
		return s
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
