package oci

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
)

// endless is a blob body that never ends, made as it is read.
type endless struct{ n *atomic.Int64 }

func (e endless) Read(p []byte) (int, error) {
	clear(p)
	e.n.Add(int64(len(p)))
	return len(p), nil
}

// hugeBlobRegistry is ggcr's in-memory registry, with the blob huge
// answered as a body that never ends (stopped at 64 MiB), made as it is
// sent; served counts its bytes.
func hugeBlobRegistry(t *testing.T, huge v1.Hash, served *atomic.Int64) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+huge.String()) {
			w.WriteHeader(http.StatusOK)
			io.Copy(w, io.LimitReader(endless{served}, 64<<20))
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestRegistrySourceBounds: a registry source whose manifest or config is
// larger than the bounds ends the join with an error naming the source,
// and the oversized config is never read.
func TestRegistrySourceBounds(t *testing.T) {
	t.Parallel()
	img := archImage(t, "amd64")
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	hugeConfig := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("c", 64)}
	for _, tc := range []struct {
		name   string
		mutate func(*v1.Manifest)
		want   error
	}{
		{"a 3 GiB config", func(m *v1.Manifest) { m.Config.Digest, m.Config.Size = hugeConfig, 3<<30 }, source.ErrOverLimit},
		// verify.SizeUnknown: a read that ggcr would not bound.
		{"a config of size -1", func(m *v1.Manifest) { m.Config.Digest, m.Config.Size = hugeConfig, -1 }, source.ErrMismatch},
		{"a 5 MiB manifest", func(m *v1.Manifest) {
			m.Annotations = map[string]string{"padding": strings.Repeat("x", 5<<20)}
		}, source.ErrOverLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var served atomic.Int64
			host := hugeBlobRegistry(t, hugeConfig, &served)
			ref, err := name.ParseReference(host+"/src:1", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ref, img); err != nil {
				t.Fatal(err)
			}
			mm := m.DeepCopy()
			tc.mutate(mm)
			raw, err := json.Marshal(mm)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Put(ref, rawManifest{raw, mm.MediaType}); err != nil {
				t.Fatal(err)
			}
			a, err := newAssembler(client.WithInsecureRegistries([]string{host}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.Assemble(context.Background(), Plan{Sources: targets(t, host+"/src:1")})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), host+"/src") {
				t.Errorf("Assemble() = %v, want %v naming the source", err, tc.want)
			}
			if n := served.Load(); n > 0 {
				t.Errorf("the registry sent %d bytes of the config, want none", n)
			}
		})
	}
}

// TestRegistryIndexChildBound: an index from a registry whose child
// descriptor gives a manifest larger than the bound ends the join before
// the child is fetched.
func TestRegistryIndexChildBound(t *testing.T) {
	t.Parallel()
	img := archImage(t, "amd64")
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	host := hugeBlobRegistry(t, v1.Hash{}, new(atomic.Int64))
	ref, err := name.ParseReference(host+"/src:img", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	raw := indexJSON(t, []v1.Descriptor{{MediaType: types.OCIManifestSchema1, Digest: d, Size: 5 << 20}}, nil)
	idxRef, err := name.ParseReference(host+"/src:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(idxRef, rawManifest{raw, types.OCIImageIndex}); err != nil {
		t.Fatal(err)
	}
	a, err := newAssembler(client.WithInsecureRegistries([]string{host}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Assemble(context.Background(), Plan{Sources: targets(t, host+"/src:1")})
	if !errors.Is(err, source.ErrOverLimit) || !strings.Contains(err.Error(), host+"/src") {
		t.Errorf("Assemble() = %v, want ErrOverLimit naming the source", err)
	}
}
