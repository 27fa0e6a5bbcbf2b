package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

func TestSessionHelps(t *testing.T) {
	t.Parallel()
	upload := func(t *testing.T, method string, rewindable bool) *http.Request {
		req := request(t, t.Context(), method, "http://r.example/v2/o/app/blobs/uploads/u1?_state=x", strings.NewReader("layer"))
		if !rewindable {
			req.GetBody = nil
		}
		return req
	}
	manifest := request(t, t.Context(), http.MethodPut, "http://r.example/v2/o/app/manifests/1", strings.NewReader("{}"))
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection error on a spent body", &url.Error{Op: "Patch", URL: "x", Err: &notRewindableError{err: errors.New("connection reset by peer")}}, true},
		{"503 on a spent body", &transport.Error{StatusCode: 503, Request: upload(t, http.MethodPatch, false)}, true},
		{"503 the transport already retried", &transport.Error{StatusCode: 503, Request: upload(t, http.MethodPatch, true)}, false},
		{"upload session unknown", &transport.Error{StatusCode: 404, Request: upload(t, http.MethodPut, true),
			Errors: []transport.Diagnostic{{Code: transport.BlobUploadUnknownErrorCode}}}, true},
		{"upload session invalid", &transport.Error{StatusCode: 400, Request: upload(t, http.MethodPatch, true),
			Errors: []transport.Diagnostic{{Code: transport.BlobUploadInvalidErrorCode}}}, true},
		{"digest mismatch after a replayed PATCH", &transport.Error{StatusCode: 400, Request: upload(t, http.MethodPut, true),
			Errors: []transport.Diagnostic{{Code: transport.DigestInvalidErrorCode}}}, true},
		{"416", &transport.Error{StatusCode: 416, Request: upload(t, http.MethodPatch, true)}, true},
		{"digest invalid on a manifest", &transport.Error{StatusCode: 400, Request: manifest,
			Errors: []transport.Diagnostic{{Code: transport.DigestInvalidErrorCode}}}, false},
		{"503 on a manifest PUT the transport retried", &transport.Error{StatusCode: 503, Request: manifest}, false},
		{"denied", &transport.Error{StatusCode: 403, Request: upload(t, http.MethodPost, true),
			Errors: []transport.Diagnostic{{Code: transport.DeniedErrorCode}}}, false},
		{"connection error the transport retried", errors.New("connection reset by peer"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr, _, logs := newTestTransport(t)
			if got := tr.newSession(tt.err); got != tt.want {
				t.Errorf("newSession(%v) = %v, want %v", tt.err, got, tt.want)
			}
			for _, l := range logs.Lines() {
				if strings.Contains(l, "_state") || strings.Contains(l, "?") {
					t.Errorf("log line leaks the query: %q", l)
				}
			}
		})
	}
}

// faultyRegistry is ggcr's in-memory registry behind a handler that
// fails the requests fail names ("503", "lost-reply"; "" passes), and the
// Recorder every request goes through. fail is given each request and its
// ordinal among the requests of its Key ("PATCH upload"), from 1.
func faultyRegistry(fail func(r *http.Request, n int) string) (http.Handler, *registrytest.Recorder) {
	rec := registrytest.NewRecorder()
	inner := quietRegistry()
	return rec.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch fail(r, rec.CountKey(registrytest.RequestKey(r))) {
		case "503":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "lost-reply":
			// The registry did it; the answer never arrived.
			inner.ServeHTTP(httptest.NewRecorder(), r)
			w.WriteHeader(http.StatusBadGateway)
		default:
			inner.ServeHTTP(w, r)
		}
	})), rec
}

// quietRegistry is ggcr's in-memory registry without its request log.
func quietRegistry() http.Handler {
	return registry.New(registry.Logger(log.New(io.Discard, "", 0)))
}

func remoteOpts(t *testing.T, opts ...Option) []remote.Option {
	t.Helper()
	tr, _, _ := newTestTransport(t, opts...)
	return append([]remote.Option{remote.WithTransport(tr)}, tr.RemoteOptions()...)
}

func TestRetriesDoNotMultiplyWithGGCR(t *testing.T) {
	t.Parallel()
	h, reg := faultyRegistry(func(r *http.Request, n int) string {
		if registrytest.Kind(r.URL.EscapedPath(), r.URL.Query()) == "manifest" {
			return "503"
		}
		return ""
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/o/app:1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Get(ref, remoteOpts(t, WithAttempts(4))...)
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("Get() error = %v, want the registry's 503 as a *transport.Error", err)
	}
	if got, want := reg.CountKey("GET manifest"), 4; got != want {
		t.Errorf("manifest GETs = %d, want %d: ggcr's retry must not multiply ours", got, want)
	}
}

func TestLostUploadReplyStartsANewSession(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		lostPATCH int // how many PATCH replies are lost
		wantErr   bool
		wantPOSTs int
	}{
		{"one lost PATCH reply", 1, false, 2},
		{"every PATCH reply lost", 1 << 30, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, reg := faultyRegistry(func(r *http.Request, n int) string {
				if r.Method == http.MethodPatch && n <= tt.lostPATCH*2 && n%2 == 1 {
					// The first PATCH of each session: its reply is lost,
					// and its replay finds the session already written.
					return "lost-reply"
				}
				return ""
			})
			srv := httptest.NewServer(h)
			defer srv.Close()
			repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/o/app")
			if err != nil {
				t.Fatal(err)
			}
			layer, err := random.Layer(4096, "application/vnd.oci.image.layer.v1.tar+gzip")
			if err != nil {
				t.Fatal(err)
			}
			err = remote.WriteLayer(repo, layer, remoteOpts(t, WithUploadSessions(3))...)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("WriteLayer() error = %v, want error: %v", err, tt.wantErr)
			}
			if got := reg.CountKey("POST upload"); got != tt.wantPOSTs {
				t.Errorf("upload sessions = %d, want %d", got, tt.wantPOSTs)
			}
			if tt.wantErr {
				return
			}
			d, err := layer.Digest()
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Head(fmt.Sprintf("%s/v2/o/app/blobs/%s", srv.URL, d))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got, want := resp.StatusCode, http.StatusOK; got != want {
				t.Errorf("HEAD blob = %d, want %d", got, want)
			}
		})
	}
}

// TestSessions: a session whose error only a new session can fix is run
// again, up to WithUploadSessions times, with a backoff between; any
// other error ends it at once.
func TestSessions(t *testing.T) {
	spent := &notRewindableError{err: errors.New("connection reset by peer")}
	for _, tc := range []struct {
		name      string
		errs      []error
		sessions  int
		wantCalls int
		wantErr   error
	}{
		{"recovers", []error{spent, spent, nil}, 3, 3, nil},
		{"gives up after the last session", []error{spent, spent, spent, nil}, 3, 3, ErrNotRewindable},
		{"one session", []error{spent, nil}, 1, 1, ErrNotRewindable},
		{"other errors end it", []error{errFinal, nil}, 3, 1, errFinal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, clock, _ := newTestTransport(t, WithUploadSessions(tc.sessions))
			calls := 0
			err := tr.Sessions(context.Background(), func() error {
				calls++
				return tc.errs[calls-1]
			})
			if calls != tc.wantCalls || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("calls %d, err %v; want %d, %v", calls, err, tc.wantCalls, tc.wantErr)
			}
			if got := len(clock.Waits()); got != tc.wantCalls-1 {
				t.Errorf("%d waits between %d sessions", got, tc.wantCalls)
			}
		})
	}
}

var errFinal = errors.New("manifest invalid")
