package push

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// mountRefuser is a proxy in front of a real registry that refuses every
// POST carrying mount=, whatever its from, with status and an empty body:
// Harbor answers 401 for a mount it will not serve (goharbor/harbor#17097)
// and Docker Hub 403 with an empty body (goreleaser/goreleaser#5853). It
// records every request.
type mountRefuser struct {
	host string
	seen *registrytest.Recorder
}

// posts returns the queries of the upload POSTs (mounts and plain
// uploads), in order.
func (m *mountRefuser) posts() []url.Values {
	var out []url.Values
	for _, q := range m.seen.Requests() {
		if k := q.Key(); k == "POST mount" || k == "POST upload" {
			out = append(out, q.Query)
		}
	}
	return out
}

func startMountRefuser(t *testing.T, reg *registrytest.Registry, status int) *mountRefuser {
	t.Helper()
	up, err := url.Parse(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	m := &mountRefuser{seen: registrytest.NewRecorder()}
	rp := httputil.NewSingleHostReverseProxy(up)
	rp.Transport = reg.Client().Transport
	srv := httptest.NewServer(m.seen.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if registrytest.RequestKey(r) == "POST mount" {
			w.WriteHeader(status)
			return
		}
		rp.ServeHTTP(w, r)
	})))
	t.Cleanup(srv.Close)
	m.host = strings.TrimPrefix(srv.URL, "http://")
	return m
}

// TestMountRefusedWholesale writes blobs read from another repository of
// the same registry (a mount is asked, refused, and the blob uploaded
// plainly) and blobs read elsewhere (no mount asked) through a registry
// that refuses every mount, and checks that every upload reached the
// registry and that no plain upload carried mount or from.
func TestMountRefusedWholesale(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t)
			proxy := startMountRefuser(t, reg, status)
			ctx := context.Background()
			src, err := name.NewRepository(proxy.host+"/src", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			dst, err := name.NewRepository(proxy.host+"/dst", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			img, err := random.Image(1024, 2)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(src.Tag("1"), img); err != nil {
				t.Fatal(err)
			}
			read, err := remote.Image(src.Tag("1"))
			if err != nil {
				t.Fatal(err)
			}
			mountable, err := read.Layers() // *remote.MountableLayer
			if err != nil {
				t.Fatal(err)
			}
			other, err := random.Layer(2048, "application/vnd.oci.image.layer.v1.tar")
			if err != nil {
				t.Fatal(err)
			}
			p, err := New()
			if err != nil {
				t.Fatal(err)
			}
			w, err := p.Writer(ctx, dst, src)
			if err != nil {
				t.Fatal(err)
			}
			proxy.seen.Reset()
			for _, l := range append(mountable, other) {
				if err := w.WriteBlob(ctx, l); err != nil {
					t.Fatalf("WriteBlob = %v, want the blob uploaded without the mount", err)
				}
				if got, want := reg.BlobStatus(t, "dst", digestOf(t, l).String()), http.StatusOK; got != want {
					t.Errorf("blob %s in dst: status %d, want %d", digestOf(t, l), got, want)
				}
			}
			mounts, plain := 0, 0
			for _, q := range proxy.posts() {
				switch {
				case q.Has("mount") && q.Get("from") == "src":
					mounts++
				case q.Has("mount") || q.Has("from"):
					t.Errorf("upload POST with %v: a mount from a repository not known to hold the blob", q)
				default:
					plain++
				}
			}
			if got, want := mounts, len(mountable); got != want {
				t.Errorf("%d mounts asked from src, want %d", got, want)
			}
			if got, want := plain, len(mountable)+1; got != want {
				t.Errorf("%d plain upload POSTs, want %d", got, want)
			}
		})
	}
}
