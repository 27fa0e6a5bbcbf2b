package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	srclayout "github.com/oci-assemble/oci-assemble/internal/oci/layout"

	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// archImage is a small random image whose config names linux/arch.
func archImage(t testing.TB, arch string) v1.Image {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// imageLayout writes a layout at dir that holds img's blobs and lists
// nothing yet; it returns img's descriptor.
func imageLayout(t testing.TB, dir string, img v1.Image) v1.Descriptor {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WriteImage(img); err != nil {
		t.Fatal(err)
	}
	d, err := partial.Descriptor(img)
	if err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest}
}

// putBlobAs writes b to the layout as the blob named h, whatever b's
// digest is.
func putBlobAs(t testing.TB, dir string, h v1.Hash, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "blobs", h.Algorithm, h.Hex), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// putIndexBlob writes an index of descs to the layout and returns its
// descriptor, with annotations on the index to make it distinct.
func putIndexBlob(t testing.TB, dir string, descs []v1.Descriptor, annotations map[string]string) v1.Descriptor {
	t.Helper()
	raw := indexJSON(t, descs, annotations)
	h, n, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	putBlobAs(t, dir, h, raw)
	return v1.Descriptor{MediaType: types.OCIImageIndex, Digest: h, Size: n}
}

func indexJSON(t testing.TB, descs []v1.Descriptor, annotations map[string]string) []byte {
	t.Helper()
	raw, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: descs, Annotations: annotations})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// putIndexJSON makes descs the layout's index.json.
func putIndexJSON(t testing.TB, dir string, descs ...v1.Descriptor) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "index.json"), indexJSON(t, descs, nil), 0o644); err != nil {
		t.Fatal(err)
	}
}

// selfIndex is an index blob stored as the digest it lists: content that
// names itself, as only a blob that does not match its digest can.
func selfIndex(t testing.TB, dir string) v1.Descriptor {
	t.Helper()
	h, _, err := v1.SHA256(strings.NewReader("any other content"))
	if err != nil {
		t.Fatal(err)
	}
	d := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: h}
	var raw []byte
	for range 3 { // the size names itself too: settle its digits
		raw = indexJSON(t, []v1.Descriptor{d}, nil)
		d.Size = int64(len(raw))
	}
	putBlobAs(t, dir, h, raw)
	return d
}

func layoutAssembler(t testing.TB) *Assembler {
	t.Helper()
	a, err := newAssembler()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestLayoutSelfReferencingIndex: an index blob of a layout source that
// names itself ends the join with an error, not a stack overflow,
// whether the source names it by tag or as the layout's one index.
func TestLayoutSelfReferencingIndex(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, tag string
	}{
		{"by tag", "v1"},
		{"the one index", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			imageLayout(t, dir, archImage(t, "amd64"))
			d := selfIndex(t, dir)
			src := "oci:" + dir
			if tc.tag != "" {
				d.Annotations = map[string]string{specs.AnnotationRefName: tc.tag}
				src += ":" + tc.tag
			}
			putIndexJSON(t, dir, d)
			_, err := layoutAssembler(t).Assemble(context.Background(), Plan{Sources: targets(t, src)})
			if !errors.Is(err, source.ErrMismatch) || !errors.Is(err, plan.ErrSource) {
				t.Fatalf("Assemble() = %v, want an ErrSource error wrapping ErrMismatch", err)
			}
		})
	}
}

// fanOut writes a layout whose index.json names an index of width
// distinct indexes, each naming repeat times one index of width entries
// of one image: three levels of fan-out, as a hostile layout builds them
// to make a walk that follows every path never end.
func fanOut(t testing.TB, dir string, width, repeat int) {
	t.Helper()
	img := imageLayout(t, dir, archImage(t, "amd64"))
	leaf := putIndexBlob(t, dir, repeated(img, width), nil)
	mid := make([]v1.Descriptor, width)
	for i := range mid {
		mid[i] = putIndexBlob(t, dir, repeated(leaf, repeat), map[string]string{"n": fmt.Sprint(i)})
	}
	putIndexJSON(t, dir, putIndexBlob(t, dir, mid, nil))
}

func repeated(d v1.Descriptor, n int) []v1.Descriptor {
	out := make([]v1.Descriptor, n)
	for i := range out {
		out[i] = d
	}
	return out
}

// TestLayoutFanOut: a layout source of three levels of 1000x fan-out
// ends at the walk's bound with an error that says so.
func TestLayoutFanOut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fanOut(t, dir, 1000, 11)
	_, err := layoutAssembler(t).Assemble(context.Background(), Plan{Sources: targets(t, "oci:"+dir)})
	if !errors.Is(err, source.ErrOverLimit) || !strings.Contains(err.Error(), "descriptors") {
		t.Fatalf("Assemble() = %v, want ErrOverLimit naming the descriptors", err)
	}
}

// TestLayoutWalkCancelled: a cancelled context stops the walk of a
// layout source.
func TestLayoutWalkCancelled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fanOut(t, dir, 10, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := layoutAssembler(t).Assemble(ctx, Plan{Sources: targets(t, "oci:"+dir)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Assemble() = %v, want context.Canceled", err)
	}
}

// TestLayoutBlobMismatch: a layout source whose blob holds bytes other
// than its digest names, of the same size, fails the join, whichever
// blob it is.
func TestLayoutBlobMismatch(t *testing.T) {
	t.Parallel()
	img := archImage(t, "amd64")
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		blob v1.Hash
	}{
		{"layer", m.Layers[0].Digest},
		{"config", m.Config.Digest},
		{"manifest", d},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			putIndexJSON(t, dir, imageLayout(t, dir, img))
			p := filepath.Join(dir, "blobs", "sha256", tc.blob.Hex)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0xff
			putBlobAs(t, dir, tc.blob, b)
			a := layoutAssembler(t)
			out := targets(t, "oci:"+filepath.Join(t.TempDir(), "out"))
			as, err := a.Assemble(context.Background(), Plan{Sources: targets(t, "oci:"+dir), Targets: out})
			if err == nil {
				_, err = a.Publish(context.Background(), as)
			}
			if !errors.Is(err, source.ErrMismatch) {
				t.Fatalf("join = %v, want ErrMismatch", err)
			}
		})
	}
}

// selfIndexFake is an index that is its own child, as no verified
// content can be: the walk must not trust verification to stop it.
type selfIndexFake struct{ *srclayout.Index }

func (f selfIndexFake) ImageIndex(v1.Hash) (v1.ImageIndex, error) { return f, nil }

// deepIndexFake is an index whose child is a new index one deeper,
// without end.
type deepIndexFake struct {
	*srclayout.Index
	depth int
}

func (f deepIndexFake) ImageIndex(v1.Hash) (v1.ImageIndex, error) {
	return newDeepIndexFake(f.depth + 1)
}

func newDeepIndexFake(depth int) (deepIndexFake, error) {
	child := v1.Descriptor{MediaType: types.OCIImageIndex, Size: 2, Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", depth+1)}}
	raw, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{child}})
	if err != nil {
		return deepIndexFake{}, err
	}
	return deepIndexFake{Index: rawIndex(raw), depth: depth}, nil
}

// TestFlattenIndexBounds: the walk of any source's index tree (a
// registry's is verified by ggcr, which no fake is) sees a visited set
// and a depth bound.
func TestFlattenIndexBounds(t *testing.T) {
	t.Parallel()
	self := selfIndexFake{rawIndex(indexJSON(t, []v1.Descriptor{{MediaType: types.OCIImageIndex, Size: 2, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}}}, nil))}
	deep, err := newDeepIndexFake(0)
	if err != nil {
		t.Fatal(err)
	}
	src := targets(t, "oci:/nowhere")[0]
	for _, tc := range []struct {
		name string
		idx  v1.ImageIndex
		want error
	}{
		{"an index that is its own child", self, nil},
		{"an index nested without end", deep, source.ErrOverLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := assembly.FlattenIndex(context.Background(), src, tc.idx)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("flattenIndex() = %v, want %v", err, tc.want)
			}
		})
	}
}

// rawIndex is an index of raw JSON with no children to read.
func rawIndex(raw []byte) *srclayout.Index {
	idx, err := srclayout.NewIndex(srclayout.Dir{Path: "/nowhere"}, raw, types.OCIImageIndex)
	if err != nil {
		panic(err)
	}
	return idx
}
