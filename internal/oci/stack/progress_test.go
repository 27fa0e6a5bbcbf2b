package stack

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// slowBody yields n chunks of 1 KiB, moving clock on by step before each,
// as a body that takes step to send each chunk would.
type slowBody struct {
	n     int
	step  time.Duration
	clock *fakeClock
}

func (s *slowBody) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	s.n--
	s.clock.Advance(s.step)
	return copy(p, bytes.Repeat([]byte{'x'}, min(len(p), 1024))), nil
}

// drain is a registry's upload endpoint: it reads the whole body and
// accepts it.
type drain struct{}

func (drain) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, err := io.Copy(io.Discard, req.Body); err != nil {
		return nil, err
	}
	req.Body.Close()
	return &http.Response{StatusCode: http.StatusCreated, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// TestLongUploadLogsProgress: an upload that takes longer than the
// progress interval logs how far it got while it runs — the layer, bytes
// of total, percent and rate, in IEC units — then one line with its size
// when the registry accepts it. The clock is fake: 10 chunks of 1 KiB,
// 10ms apart, at a 20ms interval log every second chunk, and each line
// is at least 10% on from the last.
func TestLongUploadLogsProgress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// blob marks the request with its digest and size (WithBlob).
		blob bool
		want []string
	}{
		{"known layer", true, []string{
			`layer=sha256:123456789abc to=o/app sent="2.0 KiB of 10.0 KiB (20%)" rate="100.0 KiB/s"`,
			`layer=sha256:123456789abc to=o/app sent="4.0 KiB of 10.0 KiB (40%)" rate="100.0 KiB/s"`,
			`layer=sha256:123456789abc to=o/app sent="6.0 KiB of 10.0 KiB (60%)" rate="100.0 KiB/s"`,
			`layer=sha256:123456789abc to=o/app sent="8.0 KiB of 10.0 KiB (80%)" rate="100.0 KiB/s"`,
			`layer=sha256:123456789abc to=o/app sent="10.0 KiB of 10.0 KiB (100%)" rate="100.0 KiB/s"`,
		}},
		{"streamed layer", false, []string{
			`layer=streamed to=o/app sent="2.0 KiB" rate="100.0 KiB/s"`,
			`layer=streamed to=o/app sent="4.0 KiB" rate="100.0 KiB/s"`,
			`layer=streamed to=o/app sent="6.0 KiB" rate="100.0 KiB/s"`,
			`layer=streamed to=o/app sent="8.0 KiB" rate="100.0 KiB/s"`,
			`layer=streamed to=o/app sent="10.0 KiB" rate="100.0 KiB/s"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := progressLines(t, 10, 10*time.Millisecond, 20*time.Millisecond, tt.blob)
			var got []string
			for _, m := range regexp.MustCompile(`msg="blob uploading" (.*)`).FindAllStringSubmatch(out, -1) {
				got = append(got, m[1])
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("progress lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if !strings.Contains(out, `msg="blob uploaded"`) || !strings.Contains(out, `size="10.0 KiB"`) || !strings.Contains(out, "to=o/app") {
				t.Errorf("no final line with the size and repository:\n%s", out)
			}
			if !strings.Contains(out, `seconds=0.10 rate="100.0 KiB/s"`) {
				t.Errorf("final line does not time the upload at 0.10s and 100.0 KiB/s:\n%s", out)
			}
		})
	}
}

// TestProgressBounded: a line at most every interval, and at most one
// per 10% of a known total, however the chunks come.
func TestProgressBounded(t *testing.T) {
	t.Parallel()
	// 1000 chunks, each a whole interval apart: time alone would log
	// 1000 lines, the 10% step leaves 10.
	out := progressLines(t, 1000, 20*time.Millisecond, 20*time.Millisecond, true)
	if n := strings.Count(out, `msg="blob uploading"`); n != 10 {
		t.Errorf("%d progress lines for a 1000-chunk upload, want 10:\n%s", n, out)
	}
	// A fast upload says nothing until it is done.
	out = progressLines(t, 1000, time.Microsecond, 0, true)
	if n := strings.Count(out, `msg="blob uploading"`); n != 0 {
		t.Errorf("%d progress lines for an upload of 1ms, want none:\n%s", n, out)
	}
}

// progressLines sends a PUT of n chunks of 1 KiB, step apart on a fake
// clock, through a progressTransport that logs at most every every (0:
// the default), and returns what it logged.
func progressLines(t *testing.T, n int, step, every time.Duration, blob bool) string {
	t.Helper()
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	var mu sync.Mutex
	var logs bytes.Buffer
	p := &progressTransport{
		inner:  drain{},
		logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil)),
		every:  every,
		now:    clock.Now,
	}
	body := &slowBody{n: n, step: step, clock: clock}
	const digest = "sha256:123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
	ctx := context.Background()
	if blob {
		ctx = WithBlob(ctx, digest, int64(n)*1024)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://reg.example/v2/o/app/blobs/uploads/abc?digest="+digest, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	return logs.String()
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
