package retry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fail func(t *testing.T, w http.ResponseWriter)
	}{
		{"503", func(t *testing.T, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }},
		{"502", func(t *testing.T, w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }},
		{"500", func(t *testing.T, w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) }},
		{"408", func(t *testing.T, w http.ResponseWriter) { w.WriteHeader(http.StatusRequestTimeout) }},
		{"429 without Retry-After", func(t *testing.T, w http.ResponseWriter) { w.WriteHeader(http.StatusTooManyRequests) }},
		{"connection cut", cut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hits counter
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hits.next() == 1 {
					tt.fail(t, w)
					return
				}
				io.WriteString(w, "ok")
			}))
			defer srv.Close()
			tr, clock, _ := newTestTransport(t)
			for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
				hits.reset()
				body := io.Reader(nil)
				if method == http.MethodPut {
					body = strings.NewReader("manifest") // rewindable: GetBody is set
				}
				resp, err := tr.RoundTrip(request(t, t.Context(), method, srv.URL+"/v2/o/app/manifests/1", body))
				if err != nil {
					t.Fatalf("%s: RoundTrip() error = %v", method, err)
				}
				if got, want := resp.StatusCode, http.StatusOK; got != want {
					t.Errorf("%s: status = %d, want %d", method, got, want)
				}
				readAll(t, resp)
				if got, want := hits.get(), 2; got != want {
					t.Errorf("%s: requests = %d, want %d", method, got, want)
				}
			}
			if got, want := len(clock.Waits()), 3; got != want {
				t.Errorf("waits = %v, want %d", clock.Waits(), want)
			}
		})
	}
}

func TestDoesNotRetryAnswers(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusNotFound, http.StatusUnauthorized, http.StatusBadRequest, http.StatusNotImplemented} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			var hits counter
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.next()
				w.WriteHeader(code)
			}))
			defer srv.Close()
			tr, _, _ := newTestTransport(t)
			resp, err := tr.RoundTrip(request(t, t.Context(), http.MethodGet, srv.URL+"/v2/o/app/manifests/1", nil))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got, want := resp.StatusCode, code; got != want {
				t.Errorf("status = %d, want %d", got, want)
			}
			if got, want := hits.get(), 1; got != want {
				t.Errorf("requests = %d, want %d", got, want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := newFakeClock().Now()
	tests := []struct {
		name   string
		header string
		cap    time.Duration
		want   time.Duration
	}{
		{"delta seconds", "2", 30 * time.Second, 2 * time.Second},
		{"HTTP date", now.Add(5 * time.Second).Format(http.TimeFormat), 30 * time.Second, 5 * time.Second},
		{"date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 30 * time.Second, 0},
		{"capped seconds", "120", 30 * time.Second, 30 * time.Second},
		{"capped date", now.Add(time.Hour).Format(http.TimeFormat), 7 * time.Second, 7 * time.Second},
		// A hostile registry asking for eleven days is held to the cap.
		{"hostile seconds at the default cap", "999999", 0, 30 * time.Second},
		{"hostile date at the default cap", "Fri, 31 Dec 9999 23:59:59 GMT", 0, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hits counter
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hits.next() == 1 {
					w.Header().Set("Retry-After", tt.header)
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				io.WriteString(w, "ok")
			}))
			defer srv.Close()
			var opts []Option
			if tt.cap > 0 {
				opts = append(opts, WithRetryAfterCap(tt.cap))
			}
			tr, clock, _ := newTestTransport(t, opts...)
			resp, err := tr.RoundTrip(request(t, t.Context(), http.MethodGet, srv.URL+"/v2/o/app/blobs/sha256:00", nil))
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			if got, want := resp.StatusCode, http.StatusOK; got != want {
				t.Errorf("status = %d, want %d", got, want)
			}
			if got, want := clock.Waits(), []time.Duration{tt.want}; !slices.Equal(got, want) {
				t.Errorf("waits = %v, want %v", got, want)
			}
		})
	}
}

func TestGivesUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		opts       []Option
		retryAfter string
		wantHits   int
		wantWaits  int
	}{
		{"after attempts", []Option{WithAttempts(3)}, "", 3, 2},
		// Waits of 10s: the third would end at 30s, past the 25s budget.
		{"after total time", []Option{WithAttempts(100), WithMaxElapsed(25 * time.Second)}, "10", 3, 2},
		{"when Retry-After outlasts the budget", []Option{WithMaxElapsed(time.Minute)}, "3600", 1, 0},
		{"at once with one attempt", []Option{WithAttempts(1)}, "", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hits counter
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := hits.next()
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, "attempt "+string(rune('0'+n)))
			}))
			defer srv.Close()
			opts := append([]Option{WithRetryAfterCap(time.Hour)}, tt.opts...)
			tr, clock, _ := newTestTransport(t, opts...)
			resp, err := tr.RoundTrip(request(t, t.Context(), http.MethodGet, srv.URL+"/v2/o/app/manifests/1", nil))
			if err != nil {
				t.Fatalf("RoundTrip() error = %v, want the last response", err)
			}
			if got, want := resp.StatusCode, http.StatusServiceUnavailable; got != want {
				t.Errorf("status = %d, want %d", got, want)
			}
			if got, want := readAll(t, resp), "attempt "+string(rune('0'+tt.wantHits)); got != want {
				t.Errorf("body = %q, want the last response's %q", got, want)
			}
			if got := hits.get(); got != tt.wantHits {
				t.Errorf("requests = %d, want %d", got, tt.wantHits)
			}
			if got := len(clock.Waits()); got != tt.wantWaits {
				t.Errorf("waits = %v, want %d of them", clock.Waits(), tt.wantWaits)
			}
		})
	}
}

func TestGivesUpWithTheLastError(t *testing.T) {
	t.Parallel()
	var hits counter
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.next()
		cut(t, w)
	}))
	defer srv.Close()
	tr, _, _ := newTestTransport(t, WithAttempts(4))
	_, err := tr.RoundTrip(request(t, t.Context(), http.MethodHead, srv.URL+"/v2/o/app/manifests/1", nil))
	if err == nil {
		t.Fatal("RoundTrip() error = nil, want the connection error")
	}
	if errors.Is(err, ErrNotRewindable) {
		t.Errorf("RoundTrip() error = %v, must not claim the body was the problem", err)
	}
	if got, want := hits.get(), 4; got != want {
		t.Errorf("requests = %d, want %d", got, want)
	}
}

func TestBackoffIsBoundedFullJitter(t *testing.T) {
	t.Parallel()
	tr, _, _ := newTestTransport(t, WithBackoff(time.Second, 4*time.Second))
	ceilings := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
	var distinct = map[time.Duration]bool{}
	for round := 0; round < 50; round++ {
		for i, ceil := range ceilings {
			got := tr.backoff(i + 1)
			if got < 0 || got > ceil {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", i+1, got, ceil)
			}
			distinct[got] = true
		}
	}
	if len(distinct) < 10 {
		t.Errorf("backoff drew %d distinct waits in 250 draws; want jitter", len(distinct))
	}
}

func TestNonRewindableBodyIsNotRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fail func(t *testing.T, w http.ResponseWriter)
	}{
		{"503", func(t *testing.T, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }},
		{"connection cut", cut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hits counter
			var mu sync.Mutex
			var last string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := hits.next()
				if n == 1 {
					tt.fail(t, w)
					return
				}
				b, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("reading the retried body: %v", err)
				}
				mu.Lock()
				last = string(b)
				mu.Unlock()
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()
			tr, _, _ := newTestTransport(t)

			// A streamed PATCH, as ggcr sends a layer it cannot read twice.
			streamed := request(t, t.Context(), http.MethodPatch, srv.URL+"/v2/o/app/blobs/uploads/u1", io.NopCloser(strings.NewReader("layer")))
			streamed.GetBody = nil
			resp, err := tr.RoundTrip(streamed)
			switch {
			case err != nil:
				if !errors.Is(err, ErrNotRewindable) {
					t.Errorf("RoundTrip() error = %v, want ErrNotRewindable", err)
				}
			default:
				resp.Body.Close()
				if got, want := resp.StatusCode, http.StatusServiceUnavailable; got != want {
					t.Errorf("status = %d, want %d returned as it came", got, want)
				}
			}
			if got, want := hits.get(), 1; got != want {
				t.Fatalf("requests = %d, want %d: a spent body must not be sent again", got, want)
			}

			// The same request with GetBody is retried with the whole body.
			hits.reset()
			rewindable := request(t, t.Context(), http.MethodPatch, srv.URL+"/v2/o/app/blobs/uploads/u1", strings.NewReader("layer"))
			resp, err = tr.RoundTrip(rewindable)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got, want := resp.StatusCode, http.StatusAccepted; got != want {
				t.Errorf("status = %d, want %d", got, want)
			}
			mu.Lock()
			defer mu.Unlock()
			if got, want := last, "layer"; got != want {
				t.Errorf("retried body = %q, want %q", got, want)
			}
		})
	}
}

func TestContextCancelStopsWaiting(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	var hits counter
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.next()
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusServiceUnavailable)
		cancel() // while the client is about to wait an hour
	}))
	defer srv.Close()
	// The real clock: a sleep that ignored the context would wait the cap.
	tr, err := New(http.DefaultTransport.(*http.Transport).Clone(), WithRetryAfterCap(time.Hour), WithMaxElapsed(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.RoundTrip(request(t, ctx, http.MethodGet, srv.URL+"/v2/o/app/manifests/1", nil))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("RoundTrip() error = %v, want context.Canceled", err)
	}
	if got, want := hits.get(), 1; got != want {
		t.Errorf("requests = %d, want %d", got, want)
	}
}

func TestLogsOneLinePerRetryWithoutSecrets(t *testing.T) {
	t.Parallel()
	var hits counter
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch hits.next() {
		case 1:
			w.WriteHeader(http.StatusBadGateway)
		case 2:
			cut(t, w)
		default:
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer srv.Close()
	tr, _, logs := newTestTransport(t)
	req := request(t, t.Context(), http.MethodPut, srv.URL+"/v2/o/app/blobs/uploads/u1?_state=SECRETSTATE&digest=sha256:00", nil)
	req.Header.Set("Authorization", "Bearer SECRETTOKEN")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	lines := logs.Lines()
	if got, want := len(lines), 2; got != want {
		t.Fatalf("log lines = %d, want %d:\n%s", got, want, strings.Join(lines, "\n"))
	}
	for _, want := range []string{"method=PUT", "path=/v2/o/app/blobs/uploads/u1", "status=502", "wait="} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("first line %q lacks %q", lines[0], want)
		}
	}
	if !strings.Contains(lines[1], "error=") {
		t.Errorf("second line %q lacks the connection error", lines[1])
	}
	for _, l := range lines {
		if strings.Contains(l, "SECRET") || strings.Contains(l, "?") {
			t.Errorf("log line leaks the query or a header: %q", l)
		}
	}
}

func TestOptionsRejectNonsense(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opt  Option
	}{
		{"zero attempts", WithAttempts(0)},
		{"zero budget", WithMaxElapsed(0)},
		{"base above max", WithBackoff(time.Second, time.Millisecond)},
		{"negative Retry-After cap", WithRetryAfterCap(-time.Second)},
		{"negative read-after-write", WithReadAfterWrite(-time.Second)},
		{"zero sessions", WithUploadSessions(0)},
		{"nil logger", WithLogger(nil)},
		{"nil clock", WithClock(nil)},
		{"nil rand", WithRand(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(http.DefaultTransport, tt.opt); err == nil {
				t.Errorf("New(%s) error = nil, want one", tt.name)
			}
		})
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) error = nil, want one")
	}
}

func TestRetriesAnErrorBodyCutMidway(t *testing.T) {
	t.Parallel()
	const body = `{"errors":[{"code":"RANGE_INVALID","message":"invalid content range"}]}`
	var hits counter
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.next() == 1 {
			// The status arrives, the body that explains it does not.
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			io.WriteString(w, body[:10])
			rc := http.NewResponseController(w)
			rc.Flush()
			conn, _, err := rc.Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.Close()
			return
		}
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		io.WriteString(w, body)
	}))
	defer srv.Close()
	tr, _, _ := newTestTransport(t)
	resp, err := tr.RoundTrip(request(t, t.Context(), http.MethodPatch, srv.URL+"/v2/o/app/blobs/uploads/u1", strings.NewReader("layer")))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.StatusCode, http.StatusRequestedRangeNotSatisfiable; got != want {
		t.Errorf("status = %d, want %d", got, want)
	}
	if got := readAll(t, resp); got != body {
		t.Errorf("body = %q, want the whole error %q", got, body)
	}
	if got, want := hits.get(), 2; got != want {
		t.Errorf("requests = %d, want %d", got, want)
	}
}

// TestErrorBodyIsBounded: a registry that answers an error with a body of
// many megabytes hands the caller at most maxErrorBody of it, whether it
// is retried or returned.
func TestErrorBodyIsBounded(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusBadRequest, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status)
				chunk := bytes.Repeat([]byte("x"), 1<<20)
				for range 64 {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			}))
			defer srv.Close()
			tr, _, _ := newTestTransport(t, WithAttempts(2))
			resp, err := tr.RoundTrip(request(t, t.Context(), http.MethodGet, srv.URL+"/v2/o/app/manifests/1", nil))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(readAll(t, resp)); got > maxErrorBody {
				t.Errorf("error body of %d bytes reached the caller, want at most %d", got, maxErrorBody)
			}
		})
	}
}
