package layer

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	// testCreated is a fixed created time; sub-second on purpose, the tar
	// mtime must drop it.
	testCreated = time.Date(2024, 5, 6, 7, 8, 9, 500, time.UTC)
)

// makeTree builds the workspace the tests use. Modes are requested at
// creation and need no chmod, so the process umask decides them unless it is
// 022 or laxer (see TestUmaskDoesNotMatter); the setuid file is chmod-ed.
func makeTree(t testing.TB, dir string) {
	t.Helper()
	mk := func(rel string, mode os.FileMode, content string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	mk("dist/linux-amd64/app", 0o755, "#!/bin/sh\necho amd64\n")
	mk("dist/linux-arm64-v8/app", 0o755, "#!/bin/sh\necho arm64\n")
	mk("static/index.html", 0o644, "<h1>hello</h1>\n")
	mk("static/css/site.css", 0o600, "body{}\n")
	if err := os.Mkdir(filepath.Join(dir, "static/private"), 0o700); err != nil {
		t.Fatal(err)
	}
	mk("static/private/key", 0o400, "secret\n")
	if err := os.Symlink("index.html", filepath.Join(dir, "static/home.html")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/does/not/exist", filepath.Join(dir, "static/dangling")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "static/index.html"), filepath.Join(dir, "static/z-copy.html")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "static/index.html"), filepath.Join(dir, "static/a-copy.html")); err != nil {
		t.Fatal(err)
	}
	mk("bin/suid", 0o755, "suid\n")
	if err := os.Chmod(filepath.Join(dir, "bin/suid"), 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../dist/linux-amd64/app", filepath.Join(dir, "bin/applink")); err != nil {
		t.Fatal(err)
	}
}

// testSpecs is the layers input used across tests.
const testSpecs = `
- files:
    - dist/{platform}/app:/usr/local/bin/app
    - bin/suid:/usr/local/bin/
    - bin/applink:/usr/local/bin/applink
- files:
    - static/:/srv/static/
`

type tarEntry struct {
	hdr     *tar.Header
	content string
}

// readLayer decompresses l with klauspost/compress and returns its tar entries.
func readLayer(t testing.TB, l v1.Layer) []tarEntry {
	t.Helper()
	return readTar(t, bytes.NewReader(readLayerTar(t, l)))
}

// readLayerTar decompresses l with klauspost/compress (not the pgzip writer)
// and returns the tar stream.
func readLayerTar(t testing.TB, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading layer: %v", err)
	}
	mt, err := l.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader
	switch mt {
	case Zstd.MediaType():
		zr, err := zstd.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	tarball, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decompressing layer: %v", err)
	}
	return tarball
}

func readTar(t testing.TB, r io.Reader) []tarEntry {
	t.Helper()
	tr := tar.NewReader(r)
	var out []tarEntry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr: hdr, content: string(b)})
	}
}

// buildLayers parses testSpecs (or specs), expands for p and returns one
// Builder per selected layer plus the history entries.
func buildLayers(t testing.TB, specs, workspace string, p v1.Platform, opts ...Option) ([]*Builder, []v1.History) {
	t.Helper()
	ss, err := ParseSpecs(specs)
	if err != nil {
		t.Fatal(err)
	}
	var bs []*Builder
	var hs []v1.History
	for _, s := range ss {
		r, ok, err := Expand(s, p, workspace)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			continue
		}
		b, err := NewBuilder(r, append([]Option{WithCreated(testCreated)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
		hs = append(hs, r.History(testCreated))
	}
	return bs, hs
}

func layersOf(t testing.TB, bs []*Builder) []v1.Layer {
	t.Helper()
	ls := make([]v1.Layer, len(bs))
	for i, b := range bs {
		l, err := b.Layer()
		if err != nil {
			t.Fatal(err)
		}
		ls[i] = l
	}
	return ls
}

// needTool skips when an independent reader is missing locally and fails
// under CI, so a missing install step cannot pass for a green run.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		registrytest.MissingTool(t, fmt.Sprintf("%s not on PATH: %v", name, err))
	}
	return p
}

func sha256Hash(b []byte) v1.Hash {
	h, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		panic(err) // reading from memory cannot fail
	}
	return h
}

// readDiscard reads a layer to the end without keeping it.
func readDiscard(t testing.TB, l interface {
	Compressed() (io.ReadCloser, error)
}) {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
}
