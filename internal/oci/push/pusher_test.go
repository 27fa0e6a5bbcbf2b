package push

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// testRegistry is ggcr's in-memory registry, its requests recorded.
type testRegistry struct {
	host string
	*registrytest.Recorder
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	rec := registrytest.NewRecorder()
	srv := httptest.NewServer(rec.Handler(registry.New(registry.Logger(log.New(io.Discard, "", 0)))))
	t.Cleanup(srv.Close)
	return &testRegistry{host: strings.TrimPrefix(srv.URL, "http://"), Recorder: rec}
}

func TestPusherOwnsOneWriterPerRepository(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	app, _ := name.NewRepository(reg.host + "/app")
	other, _ := name.NewRepository(reg.host + "/other")
	w1, err := p.Writer(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := p.Writer(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if w1 != w2 {
		t.Error("Writer(app) twice gave two writers, want one")
	}
	w3, err := p.Writer(ctx, app, other)
	if err != nil {
		t.Fatal(err)
	}
	if w3 == w1 {
		t.Error("Writer(app, mount from other) reused a writer whose token cannot pull from other")
	}
	if w4, _ := p.Writer(ctx, app); w4 != w3 {
		t.Error("Writer(app) after the wider writer did not reuse it")
	}
	if !w3.covers([]string{other.String()}) {
		t.Errorf("wider writer covers %v, want %s", w3.mountable, other)
	}
}

// TestWriterPushesAndDeletes writes an image through the Writer alone —
// a streamed layer, known blobs, the manifest by digest and by tag — and
// reads it back with go-containerregistry's client, then deletes the tag.
func TestWriterPushesAndDeletes(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	p, err := New(WithDelete())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repo, _ := name.NewRepository(reg.host + "/app")
	w, err := p.Writer(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	// The first layer goes as a stream whose digest is learnt on the way.
	rc, _ := layers[0].Uncompressed()
	sl := stream.NewLayer(rc)
	if err := w.Upload(ctx, sl); err != nil {
		t.Fatalf("Upload(stream) = %v", err)
	}
	if _, err := sl.Digest(); err != nil {
		t.Fatalf("stream digest after Upload: %v", err)
	}
	if got, want := reg.CountKey("PATCH upload"), 1; got != want {
		t.Errorf("PATCH uploads = %d, want %d", got, want)
	}
	for _, l := range layers {
		if err := w.WriteBlob(ctx, l); err != nil {
			t.Fatalf("WriteBlob = %v", err)
		}
	}
	cl, _ := partial.ConfigLayer(img)
	if err := w.WriteBlob(ctx, cl); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	tag := repo.Tag("v1")
	if err := w.Put(ctx, repo.Digest(d.String()), img); err != nil {
		t.Fatal(err)
	}
	if err := w.Put(ctx, tag, img); err != nil {
		t.Fatal(err)
	}
	if got, err := w.Head(ctx, tag); err != nil || got != d {
		t.Fatalf("Head(%s) = %v, %v; want %v", tag, got, err, d)
	}
	back, err := remote.Image(tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(back); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
	if err := w.Delete(ctx, tag); err != nil {
		t.Fatalf("Delete(%s) = %v", tag, err)
	}
	_, err = w.Head(ctx, tag)
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusNotFound {
		t.Errorf("Head after Delete = %v, want 404", err)
	}
}

// A credential the registry refuses is sent once: asking the Pusher again
// for the same repository returns the same error without a second login.
func TestRefusedCredentialIsSentOnce(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	tokens := 0
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/token" {
			mu.Lock()
			tokens++
			mu.Unlock()
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+srv.URL+`/token",service="test"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://")+"/app", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(WithKeychain(staticKeychain{&authn.Basic{Username: "ci", Password: "wrong"}}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, first := p.Writer(ctx, repo)
	_, second := p.Writer(ctx, repo)
	if first == nil || second == nil {
		t.Fatalf("Writer errors = %v, %v; want the refusal twice", first, second)
	}
	if first.Error() != second.Error() {
		t.Errorf("second error %q, want the first again: %q", second, first)
	}
	mu.Lock()
	defer mu.Unlock()
	if tokens != 1 {
		t.Errorf("%d token requests, want 1", tokens)
	}
}

type staticKeychain struct{ auth authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.auth, nil }
