package push

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/oci-assemble/oci-assemble/internal/oci/stack"
)

func TestNextLocation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		loc, want string
		ok        bool
	}{
		{"/v2/app/blobs/uploads/abc?state=x", "https://reg.example/v2/app/blobs/uploads/abc?state=x", true},
		{"https://storage.example/upload?sig=1", "https://storage.example/upload?sig=1", true},
		// Where a Location may lead is the transport's rule, at the address
		// dialled (stack's dialGuard): it is not judged by its spelling.
		{"http://10.0.0.5/upload", "http://10.0.0.5/upload", true},
		{"", "", false},
		{"file:///etc/passwd", "", false},
		{"gopher://reg.example/x", "", false},
		{"http://[::1", "", false},
	} {
		req := &http.Request{URL: &url.URL{Scheme: "https", Host: "reg.example", Path: "/v2/app/blobs/uploads/"}}
		resp := &http.Response{Header: http.Header{}, Request: req}
		if tc.loc != "" {
			resp.Header.Set("Location", tc.loc)
		}
		got, err := nextLocation(resp)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Location %q: got %q, %v; want %q, ok %v", tc.loc, got, err, tc.want, tc.ok)
		}
	}
}

// TestErrorAnswerIsBounded: a registry answering an upload with an error
// of many megabytes gets at most maxBody of it read, and the error is
// still its answer, with the status callers branch on, not a complaint
// about the body's size.
func TestErrorAnswerIsBounded(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for range 64 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://")+"/app", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	w, err := p.Writer(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	l, err := random.Layer(100, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	err = w.Upload(ctx, l)
	var te *transport.Error
	if !errors.As(err, &te) {
		t.Fatalf("Upload = %v, want a *transport.Error", err)
	}
	if got := len(err.Error()); got > 2*maxBody {
		t.Errorf("error of %d bytes, want it to hold at most %d of the answer", got, maxBody)
	}
}

// markTransport records, per request, the registry its context acts for.
type markTransport struct {
	mu   sync.Mutex
	seen []string // "METHOD host → registry"
}

func (m *markTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	reg, _ := stack.RegistryOf(req.Context())
	m.mu.Lock()
	m.seen = append(m.seen, req.Method+" "+req.URL.Host+" → "+reg)
	m.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// TestWriterActsForItsRegistry: every request a Writer sends — to the
// registry and to the upload Location it names, on another host here —
// is marked as acting for the Writer's registry, so that the transport
// holds a Location to the registry's reach (stack.WithRegistry).
func TestWriterActsForItsRegistry(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	// The same registry under another name: Locations are sent there.
	other := strings.Replace(reg.host, "127.0.0.1", "localhost", 1)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Scheme, r.URL.Host = "http", reg.host
		resp, err := http.DefaultTransport.RoundTrip(r.Clone(r.Context()))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, "/") {
			w.Header().Set("Location", "http://"+other+loc)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(front.Close)
	host := strings.TrimPrefix(front.URL, "http://")
	mt := &markTransport{}
	p, err := New(WithTransport(mt))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(host+"/app", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	w, err := p.Writer(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	l, err := random.Layer(100, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteBlob(ctx, l); err != nil {
		t.Fatal(err)
	}
	mt.mu.Lock()
	defer mt.mu.Unlock()
	leftHost := false
	for _, s := range mt.seen {
		if strings.HasPrefix(s, "GET "+host+" → ") && strings.HasSuffix(s, " → ") {
			continue // the ping, sent by the authenticating transport
		}
		if !strings.HasSuffix(s, " → "+host) {
			t.Errorf("request %q, want it to act for %s", s, host)
		}
		leftHost = leftHost || strings.Contains(s, " "+other+" ")
	}
	if !leftHost {
		t.Errorf("no request went to the Location's host %s: %v", other, mt.seen)
	}
}
