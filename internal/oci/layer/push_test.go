package layer

import (
	"context"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// failFirstPatch answers the first blob PATCH with 500 and hands every
// other request to next.
func failFirstPatch(next http.Handler) http.Handler {
	var failed atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/blobs/uploads") && failed.CompareAndSwap(false, true) {
			http.Error(w, "injected failure", http.StatusInternalServerError)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TestPushStreaming pushes streaming layers with ggcr's remote writer: the
// first blob upload fails and is retried from the files (which ggcr's own
// stream.Layer cannot do), and a second push of the same Builders knows the
// digests and uploads nothing again.
func TestPushStreaming(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	makeTree(t, ws)
	rec := registrytest.NewRecorder()
	srv := httptest.NewServer(rec.Handler(failFirstPatch(registry.New(registry.Logger(stdlog.New(io.Discard, "", 0))))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithRetryBackoff(remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: 3}),
	}

	bs, hs := buildLayers(t, testSpecs, ws, amd64)
	push := func(tag string, cc ConfigChanges) v1.Image {
		t.Helper()
		img, err := Build(empty.Image, amd64, layersOf(t, bs), hs, cc, testCreated)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(host + "/app:" + tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, opts...); err != nil {
			t.Fatalf("remote.Write(%s) = %v", ref, err)
		}
		pulled, err := remote.Image(ref, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(pulled); err != nil {
			t.Fatalf("validate.Image(pulled %s) = %v", ref, err)
		}
		want, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if got, err := pulled.Digest(); err != nil || got != want {
			t.Errorf("pulled digest = %v, %v, want %v", got, err, want)
		}
		return img
	}

	push("one", ConfigChanges{})
	// ggcr uploads every blob, the config included, with POST, PATCH, PUT.
	if got := rec.Count(http.MethodPatch, "/blobs/uploads"); got != 4 {
		t.Errorf("PATCH uploads = %d, want 4 (two layers, one retry, the config)", got)
	}
	for _, b := range bs {
		l, err := b.Layer()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Digest(); err != nil {
			t.Errorf("Digest() after the push = %v, want it known", err)
		}
	}

	// Same layers, another config: only the config blob is uploaded.
	push("two", ConfigChanges{Env: []string{"A=1"}})
	if got := rec.Count(http.MethodPatch, "/blobs/uploads"); got != 5 {
		t.Errorf("PATCH uploads after the second push = %d, want 5 (one more, for the new config)", got)
	}
}
