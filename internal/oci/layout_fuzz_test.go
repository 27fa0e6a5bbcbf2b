package oci

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/oci/layout"

	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// fuzzImageBlobs are the blobs of one linux/amd64 image, by digest, and
// its descriptor.
func fuzzImageBlobs(t testing.TB) (map[v1.Hash][]byte, v1.Descriptor) {
	t.Helper()
	dir := t.TempDir()
	d := imageLayout(t, dir, archImage(t, "amd64"))
	blobs := map[v1.Hash][]byte{}
	ents, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		blobs[v1.Hash{Algorithm: "sha256", Hex: e.Name()}] = b
	}
	return blobs, d
}

// FuzzLayoutWalk: whatever a layout's index.json and an index blob in
// it say, resolving and flattening the layout as a source ends, without
// a panic, with members within the bounds or an error. In both inputs
// @image, @isize, @child and @csize stand for the digest and size of an
// image in the layout and of the index blob (child, stored under its
// digest); @self stands for a digest whose blob is child too, so child
// can name itself.
func FuzzLayoutWalk(f *testing.F) {
	blobs, img := fuzzImageBlobs(f)
	self := v1.Hash{Algorithm: "sha256", Hex: "5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f"}
	const oneImage = `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"@image","size":@isize}]}`
	const toChild = `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"@child","size":@csize}]}`
	const toSelf = `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"@self","size":@csize}]}`
	f.Add([]byte(oneImage), []byte(oneImage))
	f.Add([]byte(toChild), []byte(oneImage))
	f.Add([]byte(toSelf), []byte(toSelf))
	f.Add([]byte(toChild), []byte(`{"schemaVersion":2,"manifests":[`+repeatJSON(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"@image","size":@isize}`, 50)+`]}`))
	f.Add([]byte(`{"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:`+self.Hex+`","size":-1}]}`), []byte(`[]`))
	f.Fuzz(func(t *testing.T, index, child []byte) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
			t.Fatal(err)
		}
		for h, b := range blobs {
			putBlobAs(t, dir, h, b)
		}
		expand := func(b []byte, childDigest v1.Hash, childSize int) []byte {
			for _, r := range [][2]string{
				{"@image", img.Digest.String()}, {"@isize", strconv.FormatInt(img.Size, 10)},
				{"@child", childDigest.String()}, {"@csize", strconv.Itoa(childSize)}, {"@self", self.String()},
			} {
				b = bytes.ReplaceAll(b, []byte(r[0]), []byte(r[1]))
			}
			return b
		}
		// child names its own size and digest only through @self and
		// @csize, which stands for its length before expansion.
		childRaw := expand(child, self, len(child))
		ch, _, err := v1.SHA256(bytes.NewReader(childRaw))
		if err != nil {
			t.Fatal(err)
		}
		putBlobAs(t, dir, ch, childRaw)
		putBlobAs(t, dir, self, childRaw)
		if err := os.WriteFile(filepath.Join(dir, "index.json"), expand(index, ch, len(childRaw)), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		src := plan.Ref{Transport: plan.Layout, Path: dir}
		got, err := layout.Resolve(ctx, src)
		if err != nil {
			return
		}
		var ms []*assembly.Member
		if idx, ok := got.(v1.ImageIndex); ok {
			ms, err = assembly.FlattenIndex(ctx, src, idx)
		} else if _, ok := got.(v1.Image); !ok {
			t.Fatalf("resolveLayout() = %T, neither an image nor an index", got)
		}
		if err == nil && len(ms) > source.MaxDescriptors {
			t.Fatalf("flattenIndex() = %d members, more than the %d descriptors a walk reads", len(ms), source.MaxDescriptors)
		}
	})
}

func repeatJSON(s string, n int) string {
	var b bytes.Buffer
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s)
	}
	return b.String()
}
