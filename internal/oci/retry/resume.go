package retry

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// resumable makes the body of a successful GET of a manifest or blob
// survive a connection cut mid-transfer: the caller reads the body after
// RoundTrip has returned, where no request-level retry can help. The rest is fetched with a Range request, or the whole again with
// the part already delivered skipped, and only from the same content: a
// digest reference, or the same Docker-Content-Digest or ETag.
func (t *Transport) resumable(req *http.Request, resp *http.Response) {
	if req.Method != http.MethodGet || resp.StatusCode != http.StatusOK || resp.Body == nil || resp.Body == http.NoBody {
		return
	}
	o, ok := objectOf(req.URL)
	if !ok {
		return
	}
	b := &resumingBody{
		t: t, req: req, rc: resp.Body,
		digest:    resp.Header.Get("Docker-Content-Digest"),
		etag:      resp.Header.Get("ETag"),
		addressed: contentAddressed(o.ref),
	}
	if !b.addressed && b.digest == "" && b.etag == "" {
		return
	}
	resp.Body = b
}

type resumingBody struct {
	t         *Transport
	req       *http.Request
	rc        io.ReadCloser
	off       int64 // bytes delivered to the reader
	digest    string
	etag      string
	addressed bool
	broken    error // a transient read error, to resume from on the next Read
	err       error // the error that ended the body for good
	resumes   int   // resumptions so far
}

// maxResumes bounds how many times one body is resumed, as a multiple of
// the attempts a request gets: each resumption has its own attempts, and
// a server that cuts every continuation after a few bytes would
// otherwise be asked for the rest for as long as it sends any.
const maxResumes = 4

func (b *resumingBody) Read(p []byte) (int, error) {
	for {
		if b.err != nil {
			return 0, b.err
		}
		if b.broken != nil {
			cause := b.broken
			b.broken = nil
			b.resumes++
			if b.resumes > maxResumes*b.t.o.attempts {
				b.err = fmt.Errorf("%s cut %d times: %w", b.req.URL.Path, b.resumes, cause)
				return 0, b.err
			}
			if err := b.resume(cause); err != nil {
				b.err = err
				return 0, err
			}
		}
		n, err := b.rc.Read(p)
		b.off += int64(n)
		if err == nil || err == io.EOF || !retryableError(b.req.Context(), err) {
			return n, err
		}
		b.broken = err
		if n > 0 {
			return n, nil
		}
	}
}

func (b *resumingBody) Close() error { return b.rc.Close() }

// resume replaces the broken body with one that continues at b.off, or
// returns why it cannot.
func (b *resumingBody) resume(cause error) error {
	t, ctx := b.t, b.req.Context()
	start := t.o.clock.Now()
	for try := 1; ; try++ {
		wait := t.backoff(try)
		if try >= t.o.attempts || t.o.clock.Now().Add(wait).Sub(start) > t.o.maxElapsed {
			return cause
		}
		t.o.logger.LogAttrs(ctx, slog.LevelWarn, "resuming registry read",
			slog.String("method", b.req.Method), slog.String("path", b.req.URL.Path),
			slog.String("error", describe(cause)), slog.Int64("offset", b.off),
			slog.String("wait", wait.Round(time.Millisecond).String()), slog.Int("attempt", try+1))
		if err := t.o.clock.Sleep(ctx, wait); err != nil {
			return err
		}
		next, err := rewind(b.req)
		if err != nil {
			return err
		}
		next.Header.Set("Range", fmt.Sprintf("bytes=%d-", b.off))
		if b.etag != "" {
			next.Header.Set("If-Range", b.etag)
		}
		resp, err := t.inner.RoundTrip(next)
		if err != nil {
			if !retryableError(ctx, err) {
				return err
			}
			cause = err
			continue
		}
		rc, err := b.continuation(resp)
		if err == nil {
			b.rc.Close() // the broken body: its error is already known
			b.rc = rc
			return nil
		}
		discard(resp)
		if !retryableError(ctx, err) && !retryableStatus(resp.StatusCode) {
			return cause
		}
		cause = err
	}
}

// continuation returns resp's body positioned at b.off, if resp carries
// the same content.
func (b *resumingBody) continuation(resp *http.Response) (io.ReadCloser, error) {
	if !b.same(resp) {
		return nil, fmt.Errorf("resuming %s: the content changed", b.req.URL.Path)
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if got := rangeStart(resp.Header.Get("Content-Range")); got != b.off {
			return nil, fmt.Errorf("resuming %s at %d: the registry sent a range starting at %d", b.req.URL.Path, b.off, got)
		}
		return resp.Body, nil
	case http.StatusOK:
		// No Range support (manifests, most often): skip what was read.
		if _, err := io.CopyN(io.Discard, resp.Body, b.off); err != nil {
			return nil, err
		}
		return resp.Body, nil
	}
	return nil, fmt.Errorf("resuming %s: status %d", b.req.URL.Path, resp.StatusCode)
}

func (b *resumingBody) same(resp *http.Response) bool {
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		return true // not content; continuation reports the status
	}
	switch got := resp.Header.Get("Docker-Content-Digest"); {
	case b.digest != "" && got != "":
		return got == b.digest
	case b.etag != "" && resp.Header.Get("ETag") != "":
		return resp.Header.Get("ETag") == b.etag
	}
	return b.addressed
}

// rangeStart parses the first byte of "bytes START-END/TOTAL"; -1 if it
// cannot.
func rangeStart(h string) int64 {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return -1
	}
	s, _, ok := strings.Cut(rest, "-")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}
