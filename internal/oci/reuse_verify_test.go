package oci

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	"github.com/oci-assemble/oci-assemble/internal/oci/publish/reuse"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// rawManifest is a manifest pushed as it is, whatever it says.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(t testing.TB, b []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return zw.EncodeAll(b, nil)
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// firstImage reads ref (an index) back through the registry API and
// returns its reference and the index's first image.
func firstImage(t *testing.T, ref string) (name.Reference, v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return r, img
}

// publishedFiles reads ref (an index of one image) back through the
// registry API and returns the files of each layer, decompressed by
// go-containerregistry.
func publishedFiles(t *testing.T, ref string) []map[string]string {
	t.Helper()
	_, img := firstImage(t, ref)
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		files := map[string]string{}
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if hdr.Typeflag == tar.TypeReg {
				b, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				files[hdr.Name] = string(b)
			}
		}
		rc.Close() //nolint:errcheck // read-only
		out = append(out, files)
	}
	return out
}

// replaceFirstLayer points ref at an image with the config of the image
// ref holds (an index of one image), which still names the first layer's
// diffID, and blob in place of the first layer's. It returns blob's
// digest.
func replaceFirstLayer(t *testing.T, ref string, blob []byte) v1.Hash {
	t.Helper()
	r, img := firstImage(t, ref)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	bl := static.NewLayer(blob, m.Layers[0].MediaType)
	if err := remote.WriteLayer(r.Context(), bl); err != nil {
		t.Fatal(err)
	}
	m.Layers[0].Digest = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(blob))}
	m.Layers[0].Size = int64(len(blob))
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(r, rawManifest{raw: raw, mt: m.MediaType}); err != nil {
		t.Fatal(err)
	}
	return m.Layers[0].Digest
}

// TestReuseProvesTheBlob: the target's image claims, in its config, the
// diffID of a layer this build makes, for a blob that holds something
// else. That blob is not published: the published image holds the files
// of the workspace, read back through the registry API, and the user is
// warned once, with the repository and the blob named. A blob too large
// to be the layer is not even fetched.
func TestReuseProvesTheBlob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		blob func(t *testing.T) []byte
		// fetched: the blob is read to be checked.
		fetched bool
	}{
		{"other files", func(t *testing.T) []byte {
			return gzipped(t, tarOf(t, map[string]string{"opt/part0/file.txt": "not what the workspace holds\n"}))
		}, true},
		{"more than the layer", func(t *testing.T) []byte {
			return gzipped(t, make([]byte, 16<<20))
		}, true},
		{"zstd under a gzip media type", func(t *testing.T) []byte {
			return zstded(t, tarOf(t, map[string]string{"opt/part0/file.txt": "part 0\n"}))
		}, true},
		{"too large to be the layer", func(t *testing.T) []byte {
			return randomBytes(t, 1<<20)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := newRecorder(t)
			a, err := newAssembler(client.WithInsecureRegistries([]string{reg.host}))
			if err != nil {
				t.Fatal(err)
			}
			ws := t.TempDir()
			want := releaseTree(t, ws, 1)
			ref := reg.host + "/app:latest"
			tgts := targets(t, ref)
			assembleAndPublish(t, a, Plan{Build: releaseBuild(t, ws), Targets: tgts})
			bad := replaceFirstLayer(t, ref, tt.blob(t))

			reg.seen.Take()
			second := assembleAndPublish(t, a, Plan{Build: releaseBuild(t, ws), Targets: tgts})
			fetched := false
			for _, q := range reg.seen.Take() {
				if q.Method == "GET" && strings.HasSuffix(q.Path, "/blobs/"+bad.String()) {
					fetched = true
				}
			}
			if fetched != tt.fetched {
				t.Errorf("blob fetched: %v, want %v", fetched, tt.fetched)
			}
			for _, r := range second.Reused {
				if r.Digest == bad.String() {
					t.Errorf("reused %s, which is not the layer", bad)
				}
			}
			if n := len(second.Reused); n != 3 {
				t.Errorf("reused %d layers, want the 3 others: %+v", n, second.Reused)
			}
			var warned []string
			for _, w := range second.Warnings {
				if strings.Contains(w, bad.String()) {
					warned = append(warned, w)
				}
			}
			if len(warned) != 1 || !strings.Contains(warned[0], fmt.Sprintf("%q", reg.host+"/app")) {
				t.Errorf("warnings %q, want one naming %s in %q", second.Warnings, bad, reg.host+"/app")
			}
			got := publishedFiles(t, ref)
			if len(got) != len(want) {
				t.Fatalf("published %d layers, want %d", len(got), len(want))
			}
			for i := range want {
				for n, w := range want[i] {
					if got[i][n] != w {
						t.Errorf("layer %d: /%s = %q, want %q", i, n, got[i][n], w)
					}
				}
			}
			checkIndex(t, ref, second.Digest)
		})
	}
}

// TestVerifyBlob: a blob is the layer only when its bytes are its
// digest and size and decompress to the tar's diffID and size; what
// passes a bound is not read on.
func TestVerifyBlob(t *testing.T) {
	t.Parallel()
	tarb := tarOf(t, map[string]string{"a": "hello\n"})
	diffID := hashOf(tarb)
	gz := gzipped(t, tarb)
	desc := func(blob []byte) v1.Descriptor {
		return v1.Descriptor{Digest: hashOf(blob), Size: int64(len(blob))}
	}
	tests := []struct {
		name  string
		blob  []byte
		desc  v1.Descriptor
		c     layer.Compression
		isNot bool // errNotTheLayer
	}{
		{"gzip", gz, desc(gz), layer.Gzip, false},
		{"zstd", zstded(t, tarb), desc(zstded(t, tarb)), layer.Zstd, false},
		{"other digest", gz, v1.Descriptor{Digest: diffID, Size: int64(len(gz))}, layer.Gzip, true},
		{"shorter than its size", gz, v1.Descriptor{Digest: hashOf(gz), Size: int64(len(gz)) + 1}, layer.Gzip, true},
		{"longer than its size", append(bytes.Clone(gz), 0), desc(gz), layer.Gzip, true},
		{"other tar", gzipped(t, tarOf(t, map[string]string{"a": "HELLO\n"})), desc(gzipped(t, tarOf(t, map[string]string{"a": "HELLO\n"}))), layer.Gzip, true},
		{"bomb", gzipped(t, make([]byte, 32<<20)), desc(gzipped(t, make([]byte, 32<<20))), layer.Gzip, true},
		{"zstd bomb", zstded(t, make([]byte, 32<<20)), desc(zstded(t, make([]byte, 32<<20))), layer.Zstd, true},
		{"truncated gzip", gz[:len(gz)-4], desc(gz[:len(gz)-4]), layer.Gzip, true},
		{"two gzip members", append(bytes.Clone(gz), gz...), desc(append(bytes.Clone(gz), gz...)), layer.Gzip, true},
		{"wrong compression", gz, desc(gz), layer.Zstd, true},
		{"negative size", gz, v1.Descriptor{Digest: hashOf(gz), Size: -1}, layer.Gzip, true},
		{"too large to check", gz, v1.Descriptor{Digest: hashOf(gz), Size: 1 << 40}, layer.Gzip, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &countingReader{r: bytes.NewReader(tt.blob)}
			err := reuse.VerifyBlob(r, tt.c, tt.desc, diffID, int64(len(tarb)))
			if got := errors.Is(err, reuse.ErrNotTheLayer); got != tt.isNot || (!tt.isNot && err != nil) {
				t.Errorf("verifyBlob() = %v, want errNotTheLayer: %v", err, tt.isNot)
			}
			if limit := max(tt.desc.Size, 0) + 1; r.n > limit {
				t.Errorf("read %d bytes, more than the %d its size allows", r.n, limit)
			}
		})
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func hashOf(b []byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))}
}

// BenchmarkVerifyReuse is the cost of proving a reused blob: one read of
// a 64 MiB layer (half random, half text, as the layer package's
// benchmarks build), its digest, decompression and diffID. Bytes/s is
// of the layer's tar.
func BenchmarkVerifyReuse(b *testing.B) {
	tarb := benchTar(b, 64<<20)
	diffID := hashOf(tarb)
	for _, c := range []layer.Compression{layer.Gzip, layer.Zstd} {
		blob := compressLikeBuilder(b, tarb, c)
		d := v1.Descriptor{Digest: hashOf(blob), Size: int64(len(blob))}
		b.Run(string(c), func(b *testing.B) {
			b.SetBytes(int64(len(tarb)))
			for b.Loop() {
				if err := reuse.VerifyBlob(bytes.NewReader(blob), c, d, diffID, int64(len(tarb))); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(blob))/float64(len(tarb)), "blob/tar")
		})
	}
}

// benchTar is a tar of about size bytes: files of random bytes and of
// text, alternating.
func benchTar(b *testing.B, size int) []byte {
	b.Helper()
	files := map[string]string{}
	text := strings.Repeat("the quick brown fox jumps over the lazy dog 0123456789\n", 1<<15)
	for i := 0; i*(1<<20) < size; i++ {
		if i%2 == 0 {
			files[fmt.Sprintf("f%03d", i)] = string(randomBytes(b, 1<<20))
		} else {
			files[fmt.Sprintf("f%03d", i)] = text[:1<<20]
		}
	}
	return tarOf(b, files)
}

// compressLikeBuilder compresses tarb as the layer package does for
// uploads, through a Builder of the tar.
func compressLikeBuilder(b *testing.B, tarb []byte, c layer.Compression) []byte {
	b.Helper()
	bl, err := layer.FromTar("bench", v1.Hash{}, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarb)), nil },
		layer.WithCompression(c, 0))
	if err != nil {
		b.Fatal(err)
	}
	l, err := bl.Layer()
	if err != nil {
		b.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close() //nolint:errcheck // read-only
	blob, err := io.ReadAll(rc)
	if err != nil {
		b.Fatal(err)
	}
	return blob
}

// TestReuseProvesTheBlobUnpacks: on a real registry, a target whose
// image's config names the diffID of a layer this build makes, for a
// blob of other files, gets the workspace's files, as skopeo and umoci
// unpack them.
func TestReuseProvesTheBlobUnpacks(t *testing.T) {
	t.Parallel()
	needTools(t, "skopeo", "umoci")
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	a := insecureAssembler(t, reg)
	ws := t.TempDir()
	want := releaseTree(t, ws, 1)
	ref := reg.Host + "/app:latest"
	tgts := targets(t, ref)
	assembleAndPublish(t, a, Plan{Build: releaseBuild(t, ws), Targets: tgts})
	bad := replaceFirstLayer(t, ref, gzipped(t, tarOf(t, map[string]string{"opt/part0/file.txt": "not what the workspace holds\n"})))
	as := assembleAndPublish(t, a, Plan{Build: releaseBuild(t, ws), Targets: tgts})
	for _, r := range as.Reused {
		if r.Digest == bad.String() {
			t.Errorf("reused %s, which is not the layer", bad)
		}
	}
	unpackAndCheck(t, ref, want)
}

// TestReuseRefusesABlobServedWrong: a registry that answers a blob's
// digest with other bytes, here the same bytes the config claims to be
// another layer's, does not get them published: the layer is uploaded
// anew, with one warning.
func TestReuseRefusesABlobServedWrong(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	tamper := map[string][]byte{} // blob path: what is served for it
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		b, ok := tamper[req.URL.Path]
		mu.Unlock()
		if ok && req.Method == http.MethodGet {
			w.Write(b) //nolint:errcheck // test server
			return
		}
		reg.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	a, err := newAssembler(client.WithInsecureRegistries([]string{host}))
	if err != nil {
		t.Fatal(err)
	}
	ws := t.TempDir()
	want := releaseTree(t, ws, 1)
	ref := host + "/app:latest"
	tgts := targets(t, ref)
	first := assembleAndPublish(t, a, Plan{Build: releaseBuild(t, ws), Targets: tgts})
	idx, err := remote.Index(mustRef(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(mustImageDigest(t, idx))
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	other := gzipped(t, tarOf(t, map[string]string{"opt/part0/file.txt": "served instead\n"}))
	mu.Lock()
	tamper["/v2/app/blobs/"+m.Layers[0].Digest.String()] = other
	mu.Unlock()

	second := assembleAndPublish(t, a, Plan{Build: releaseBuild(t, ws), Targets: tgts})
	if n := len(second.Reused); n != 3 {
		t.Errorf("reused %d layers, want the 3 served right: %+v", n, second.Reused)
	}
	if n := len(second.Warnings); n != 1 || !strings.Contains(second.Warnings[0], m.Layers[0].Digest.String()) {
		t.Errorf("warnings %q, want one naming %s", second.Warnings, m.Layers[0].Digest)
	}
	mu.Lock()
	clear(tamper)
	mu.Unlock()
	if second.Digest != first.Digest {
		t.Errorf("published %s, want %s (the same files)", second.Digest, first.Digest)
	}
	got := publishedFiles(t, ref)
	for i := range want {
		for n, w := range want[i] {
			if got[i][n] != w {
				t.Errorf("layer %d: /%s = %q, want %q", i, n, got[i][n], w)
			}
		}
	}
}

func mustImageDigest(t *testing.T, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return im.Manifests[0].Digest
}
