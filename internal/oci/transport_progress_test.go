package oci

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowBody yields n chunks of 1 KiB, pausing before each.
type slowBody struct {
	n     int
	pause time.Duration
}

func (s *slowBody) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	s.n--
	time.Sleep(s.pause)
	return copy(p, bytes.Repeat([]byte{'x'}, min(len(p), 1024))), nil
}

// TestLongUploadLogsProgress: an upload that takes longer than the
// progress interval logs how far it got while it runs, then one line
// with its size when the registry accepts it.
func TestLongUploadLogsProgress(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	var mu sync.Mutex
	var logs bytes.Buffer
	p := &progressTransport{
		inner:  http.DefaultTransport,
		logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil)),
		every:  20 * time.Millisecond,
	}
	req, err := http.NewRequest(http.MethodPut, srv.URL+"/v2/o/app/blobs/uploads/abc?digest=sha256:1234", &slowBody{n: 10, pause: 10 * time.Millisecond})
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
	if n := strings.Count(out, "blob uploading"); n < 2 {
		t.Errorf("%d progress lines during a 100ms upload at a 20ms interval, want at least 2:\n%s", n, out)
	}
	if !strings.Contains(out, `msg="blob uploaded"`) || !strings.Contains(out, `size="10.0 KiB"`) || !strings.Contains(out, "to=o/app") {
		t.Errorf("no final line with the size and repository:\n%s", out)
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
