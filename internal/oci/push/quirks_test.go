package push

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestUploadThroughQuirks streams a 9 MiB layer (over GHCR's 4 MiB PATCH
// limit) through a proxy that answers as a public registry is reported to,
// in front of a real registry, and reads the blob back from the registry
// itself.
func TestUploadThroughQuirks(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		quirk registrytest.Quirk
		// answered: how many requests the quirk must have answered.
		answered int
		// patches: PATCH requests the registry must have seen, -1 for any.
		patches int
		// chunked: chunks with Content-Range were sent, none over MaxChunk.
		chunked bool
	}{
		// GHCR refuses a PATCH over 4 MiB with Content-Range; the stream
		// goes as one PATCH without it and is not refused.
		{name: "ghcr chunk limit", quirk: registrytest.ChunkLimit(MaxChunk), patches: 1},
		// A registry that caps the streamed PATCH too: sent again in
		// chunks of at most 4 MiB.
		{name: "streamed patch limit", quirk: registrytest.StreamedPatchLimit(MaxChunk), answered: 1, patches: -1, chunked: true},
		// ECR answered PATCHes while dropping data: the digest check of the
		// final PUT finds it and the layer is sent again whole.
		{name: "ecr patch drops data", quirk: registrytest.PatchDropsTail(1 << 20), answered: 1, patches: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t)
			proxy := registrytest.StartQuirkProxy(t, reg, tt.quirk)
			data := make([]byte, 9<<20+123)
			if _, err := rand.Read(data); err != nil {
				t.Fatal(err)
			}
			l := static.NewLayer(data, types.OCILayer)
			repo, err := name.NewRepository(proxy.Host+"/app", name.Insecure)
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
			if err := w.Upload(ctx, l); err != nil {
				t.Fatalf("Upload: %v\nrequests:\n%s", err, requests(proxy.Seen))
			}
			d := digestOf(t, l)
			if got := reg.GetBlob(t, "app", d.String()); !bytes.Equal(got, data) {
				t.Errorf("the registry holds %d bytes, want the %d sent", len(got), len(data))
			}
			if got := proxy.Answered(tt.quirk.Name); got != tt.answered {
				t.Errorf("quirk %s answered %d requests, want %d", tt.quirk.Name, got, tt.answered)
			}
			patches := proxy.Seen.Count(http.MethodPatch, "/blobs/uploads/")
			if tt.patches >= 0 && patches != tt.patches {
				t.Errorf("%d PATCH requests, want %d\nrequests:\n%s", patches, tt.patches, requests(proxy.Seen))
			}
			switch got := proxy.MaxChunk(); {
			case !tt.chunked && got != 0:
				t.Errorf("a PATCH of %d bytes carried Content-Range, want none", got)
			case tt.chunked && (got == 0 || got > MaxChunk):
				t.Errorf("largest chunk with Content-Range: %d bytes, want 1 to %d", got, MaxChunk)
			}
		})
	}
}

func digestOf(t *testing.T, l v1.Layer) v1.Hash {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func requests(r *registrytest.Recorder) string {
	var b bytes.Buffer
	for _, q := range r.Requests() {
		b.WriteString(q.String())
		b.WriteByte('\n')
	}
	return b.String()
}
