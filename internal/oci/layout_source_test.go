package oci

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	srclayout "github.com/oci-assemble/oci-assemble/internal/oci/layout"

	"github.com/oci-assemble/oci-assemble/internal/oci/plan"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// ggcrLayout writes a layout the way crane and go-containerregistry's
// layout package do (AppendImage, which sets each entry's artifactType to
// its config's media type), one entry per image, tagged by the matching
// name when it is not empty.
func ggcrLayout(t *testing.T, names []string, imgs ...v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for i, img := range imgs {
		var opts []layout.Option
		if i < len(names) && names[i] != "" {
			opts = append(opts, layout.WithAnnotations(map[string]string{specs.AnnotationRefName: names[i]}))
		}
		if err := p.AppendImage(img, opts...); err != nil {
			t.Fatal(err)
		}
	}
	im, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := im.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Manifests {
		if d.ArtifactType == "" {
			t.Fatalf("layout entry %s has no artifactType; the test no longer has the shape crane writes", d.Digest)
		}
	}
	return dir
}

func TestLayoutSourceWrittenByGGCR(t *testing.T) {
	t.Parallel()
	amd, arm := archImage(t, "amd64"), archImage(t, "arm64")
	amdDigest, err := amd.Digest()
	if err != nil {
		t.Fatal(err)
	}
	armDigest, err := arm.Digest()
	if err != nil {
		t.Fatal(err)
	}
	// A cosign signature stored as an OCI 1.1 artifact next to the image
	// stays a part of it, not a second image.
	sig := mutate.MediaType(mutate.ConfigMediaType(archImage(t, "amd64"), "application/vnd.dev.cosign.artifact.sig.v1+json"), types.OCIManifestSchema1)
	tests := []struct {
		name      string
		dir       string
		ref       string // after the directory
		want      v1.Hash
		wantErr   error
		wantInErr []string
	}{
		{name: "one untagged image", dir: ggcrLayout(t, nil, amd), want: amdDigest},
		{name: "one tagged image", dir: ggcrLayout(t, []string{"v1"}, amd), want: amdDigest},
		{name: "one image and its signature", dir: ggcrLayout(t, nil, amd, sig), want: amdDigest},
		{name: "two tagged images by tag", dir: ggcrLayout(t, []string{"amd", "arm"}, amd, arm), ref: ":arm", want: armDigest},
		{name: "two untagged images name their digests", dir: ggcrLayout(t, nil, amd, arm), wantErr: plan.ErrAmbiguous,
			wantInErr: []string{"holds 2 images", amdDigest.String(), armDigest.String()}},
		{name: "two tagged images name their tags", dir: ggcrLayout(t, []string{"amd", "arm"}, amd, arm), wantErr: plan.ErrAmbiguous,
			wantInErr: []string{"holds 2 images", `tag "amd", tag "arm"`}},
		{name: "a tag that is not there names the others", dir: ggcrLayout(t, []string{"amd", "arm"}, amd, arm), ref: ":riscv", wantErr: plan.ErrNotFound,
			wantInErr: []string{`no image tagged "riscv"`, `tag "amd", tag "arm"`}},
		{name: "only a signature", dir: ggcrLayout(t, nil, sig), wantErr: plan.ErrNotFound,
			wantInErr: []string{"holds no image", `(artifact "application/vnd.dev.cosign.artifact.sig.v1+json")`}},
		{name: "a hostile tag is quoted", dir: ggcrLayout(t, []string{"a\n::error::x\x1b[2J", "b"}, amd, arm), wantErr: plan.ErrAmbiguous,
			wantInErr: []string{`tag "a\n::error::x\x1b[2J"`}},
		{name: "shaped like examples/hello", dir: filepath.Join("..", "..", "examples", "hello"), wantErr: plan.ErrAmbiguous,
			wantInErr: []string{`name one as oci:PATH:TAG or oci:PATH@DIGEST: tag "linux-amd64", tag "linux-arm64"`}},
		{name: "examples/hello by tag", dir: filepath.Join("..", "..", "examples", "hello"), ref: ":linux-arm64",
			want: v1.Hash{Algorithm: "sha256", Hex: "a681e810ba36ec22a3d92bd352e0ce239baff46097d2ba95cf52cbd061327892"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src, err := plan.ParseRef("oci:" + tt.dir + tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			got, err := srclayout.Resolve(context.Background(), src)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, plan.ErrSource) {
					t.Fatalf("resolveLayout(%s) error = %v, want %v and ErrSource", src, err, tt.wantErr)
				}
				for _, w := range tt.wantInErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("resolveLayout(%s) error = %q, want it to contain %q", src, err, w)
					}
				}
				if strings.ContainsAny(err.Error(), "\n\x1b") {
					t.Errorf("resolveLayout(%s) error = %q holds a raw control character", src, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolveLayout(%s) = %v", src, err)
			}
			d, err := got.Digest()
			if err != nil {
				t.Fatal(err)
			}
			if d != tt.want {
				t.Errorf("resolveLayout(%s) digest = %s, want %s", src, d, tt.want)
			}
		})
	}
}
