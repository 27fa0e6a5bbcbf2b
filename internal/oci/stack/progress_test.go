package stack

import (
	"bytes"
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
// progress interval logs how far it got while it runs, then one line
// with its size when the registry accepts it. The clock is fake: 10
// chunks, 10ms apart, at a 20ms interval log exactly every second chunk.
func TestLongUploadLogsProgress(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	var mu sync.Mutex
	var logs bytes.Buffer
	p := &progressTransport{
		inner:  drain{},
		logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil)),
		every:  20 * time.Millisecond,
		now:    clock.Now,
	}
	body := &slowBody{n: 10, step: 10 * time.Millisecond, clock: clock}
	req, err := http.NewRequest(http.MethodPut, "http://reg.example/v2/o/app/blobs/uploads/abc?digest=sha256:1234", body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	out := logs.String()
	mu.Unlock()

	var sent []string
	for _, m := range regexp.MustCompile(`msg="blob uploading" .*sent="([^"]+)"`).FindAllStringSubmatch(out, -1) {
		sent = append(sent, m[1])
	}
	if got, want := strings.Join(sent, ","), "2.0 KiB,4.0 KiB,6.0 KiB,8.0 KiB,10.0 KiB"; got != want {
		t.Errorf("progress lines during a 100ms upload at a 20ms interval said sent=%s, want %s:\n%s", got, want, out)
	}
	if !strings.Contains(out, `msg="blob uploaded"`) || !strings.Contains(out, `size="10.0 KiB"`) || !strings.Contains(out, "to=o/app") {
		t.Errorf("no final line with the size and repository:\n%s", out)
	}
	if !strings.Contains(out, "seconds=0.10 MB/s=0.1") {
		t.Errorf("final line does not time the upload at 0.10s and 0.1 MB/s:\n%s", out)
	}
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
