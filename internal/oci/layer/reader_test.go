//go:build unix

package layer

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// writeLayout writes img to a new OCI layout under t.TempDir as dir:test.
// The layers stream straight into the layout's blobs.
func writeLayout(t *testing.T, img v1.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "test"})); err != nil {
		t.Fatalf("writing layout: %v", err)
	}
	return dir
}

// TestIndependentReaders unpacks the built image with umoci and inspects it
// with skopeo, neither of which shares code with ggcr or this package.
func TestIndependentReaders(t *testing.T) {
	t.Parallel()
	umoci := needTool(t, "umoci")
	skopeo := needTool(t, "skopeo")
	ws := t.TempDir()
	makeTree(t, ws)
	base, err := mutate.Config(mutate.MediaType(empty.Image, types.OCIManifestSchema1), v1.Config{Env: []string{"PATH=/usr/bin:/bin", "KEEP=1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Compression{Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			t.Parallel()
			bs, hs := buildLayers(t, testSpecs, ws, arm64, WithCompression(c, 0))
			cc := ConfigChanges{Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}, Entrypoint: []string{"/usr/local/bin/app"}, EntrypointSet: true,
				Workdir: "/srv", User: "65532", Labels: map[string]string{"org.opencontainers.image.title": "t"}}
			img, err := Build(base, arm64, layersOf(t, bs), hs, cc, testCreated)
			if err != nil {
				t.Fatal(err)
			}
			dir := writeLayout(t, img)
			unpackDir := dir
			if c == Zstd {
				// umoci 0.4 cannot read zstd: decode each layer with the
				// reference zstd tool, then let skopeo convert to gzip.
				checkZstdBlobs(t, img, dir)
				unpackDir = filepath.Join(t.TempDir(), "gzip")
				if out, err := exec.Command(skopeo, "copy", "--dest-compress-format", "gzip", "oci:"+dir+":test", "oci:"+unpackDir+":test").CombinedOutput(); err != nil {
					t.Fatalf("skopeo copy to gzip: %v\n%s", err, out)
				}
			}

			bundle := filepath.Join(t.TempDir(), "bundle")
			if out, err := exec.Command(umoci, "unpack", "--rootless", "--image", unpackDir+":test", bundle).CombinedOutput(); err != nil {
				t.Fatalf("umoci unpack: %v\n%s", err, out)
			}
			checkRootfs(t, filepath.Join(bundle, "rootfs"))

			out, err := exec.Command(skopeo, "inspect", "--config", "oci:"+dir+":test").Output()
			if err != nil {
				t.Fatalf("skopeo inspect --config: %v", err)
			}
			var cf v1.ConfigFile
			if err := json.Unmarshal(out, &cf); err != nil {
				t.Fatalf("parsing skopeo's config: %v\n%s", err, out)
			}
			if cf.OS != "linux" || cf.Architecture != "arm64" || cf.Variant != "v8" {
				t.Errorf("config platform = %s/%s/%s, want linux/arm64/v8", cf.OS, cf.Architecture, cf.Variant)
			}
			if want := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "KEEP=1"}; !reflect.DeepEqual(cf.Config.Env, want) {
				t.Errorf("Env = %q, want %q", cf.Config.Env, want)
			}
			if !reflect.DeepEqual(cf.Config.Entrypoint, []string{"/usr/local/bin/app"}) || cf.Config.WorkingDir != "/srv" || cf.Config.User != "65532" {
				t.Errorf("Entrypoint, WorkingDir, User = %q, %q, %q", cf.Config.Entrypoint, cf.Config.WorkingDir, cf.Config.User)
			}
			if !cf.Created.Equal(testCreated) || len(cf.History) != 2 || cf.History[1].CreatedBy != "oci-assemble: COPY static/ -> /srv/static" {
				t.Errorf("Created, History = %v, %+v", cf.Created, cf.History)
			}
			if len(cf.RootFS.DiffIDs) != 2 {
				t.Errorf("DiffIDs = %v, want 2", cf.RootFS.DiffIDs)
			}

			out, err = exec.Command(skopeo, "inspect", "--raw", "oci:"+dir+":test").Output()
			if err != nil {
				t.Fatalf("skopeo inspect --raw: %v", err)
			}
			var m v1.Manifest
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatal(err)
			}
			for _, l := range m.Layers {
				if l.MediaType != c.MediaType() {
					t.Errorf("layer media type = %s, want %s", l.MediaType, c.MediaType())
				}
			}
		})
	}
}

// checkZstdBlobs decodes every layer blob of img in the layout dir with the
// zstd command and checks it against the config's diffIDs.
func checkZstdBlobs(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	zstd := needTool(t, "zstd")
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range m.Layers {
		blob := filepath.Join(dir, "blobs", l.Digest.Algorithm, l.Digest.Hex)
		out, err := exec.Command(zstd, "-dc", blob).Output()
		if err != nil {
			t.Fatalf("zstd -dc %s: %v", blob, err)
		}
		if got, want := sha256Hash(out), cf.RootFS.DiffIDs[i]; got != want {
			t.Errorf("layer %d: sha256 of zstd -dc = %s, want diffID %s", i, got, want)
		}
	}
}

// checkRootfs checks what umoci unpacked. Owners are not checked here:
// rootless unpacking maps them to the current user; TestLayerContent reads
// them from the tar headers.
func checkRootfs(t *testing.T, root string) {
	t.Helper()
	mtime := time.Unix(testCreated.Unix(), 0)
	for _, tc := range []struct {
		path    string
		mode    os.FileMode
		content string
		link    string
	}{
		{path: "usr/local/bin", mode: os.ModeDir | 0o755},
		{path: "usr/local/bin/app", mode: 0o755, content: "#!/bin/sh\necho arm64\n"},
		{path: "usr/local/bin/suid", mode: 0o755 | os.ModeSetuid, content: "suid\n"},
		{path: "usr/local/bin/applink", mode: os.ModeSymlink | 0o777, link: "../dist/linux-amd64/app"},
		{path: "srv/static/index.html", mode: 0o644, content: "<h1>hello</h1>\n"},
		{path: "srv/static/css/site.css", mode: 0o600, content: "body{}\n"},
		{path: "srv/static/private", mode: os.ModeDir | 0o700},
		{path: "srv/static/private/key", mode: 0o400, content: "secret\n"},
		{path: "srv/static/home.html", mode: os.ModeSymlink | 0o777, link: "index.html"},
		{path: "srv/static/dangling", mode: os.ModeSymlink | 0o777, link: "/does/not/exist"},
	} {
		p := filepath.Join(root, tc.path)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("unpacked image: %v", err)
			continue
		}
		if fi.Mode() != tc.mode {
			t.Errorf("%s mode = %v, want %v", tc.path, fi.Mode(), tc.mode)
		}
		if tc.mode.IsRegular() || tc.mode&os.ModeSetuid != 0 {
			b, err := os.ReadFile(p)
			if err != nil || string(b) != tc.content {
				t.Errorf("%s content = %q, %v, want %q", tc.path, b, err, tc.content)
			}
		}
		if tc.link != "" {
			if got, err := os.Readlink(p); err != nil || got != tc.link {
				t.Errorf("%s link = %q, %v, want %q", tc.path, got, err, tc.link)
			}
		}
		if !fi.ModTime().Equal(mtime) {
			t.Errorf("%s mtime = %v, want %v", tc.path, fi.ModTime(), mtime)
		}
	}
	a, errA := os.Stat(filepath.Join(root, "srv/static/a-copy.html"))
	for _, other := range []string{"index.html", "z-copy.html"} {
		b, errB := os.Stat(filepath.Join(root, "srv/static", other))
		if errA != nil || errB != nil || !os.SameFile(a, b) {
			t.Errorf("srv/static/%s is not a hardlink of a-copy.html (%v, %v)", other, errA, errB)
		}
	}
}
