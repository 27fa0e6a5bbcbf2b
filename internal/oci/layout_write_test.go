package oci

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/oci/layout"
)

// joinToLayout joins the layout src into the layout target dst:TAG.
func joinToLayout(t *testing.T, src, dst string) error {
	t.Helper()
	a := layoutAssembler(t)
	out := targets(t, "oci:"+dst+":v1")
	as, err := a.Assemble(context.Background(), Plan{Sources: targets(t, "oci:"+src), Targets: out})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Publish(context.Background(), as)
	return err
}

// TestLayoutTargetSymlinks: a layout target whose own files (index.json,
// oci-layout, the blob directories, a blob the join writes) are symlinks
// already in place is refused, and nothing is written where they point.
// The directory the user names may itself be a symlink.
func TestLayoutTargetSymlinks(t *testing.T) {
	t.Parallel()
	img := archImage(t, "amd64")
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	const emptyIndex = `{"schemaVersion":2,"manifests":[]}`
	for _, tc := range []struct {
		name string
		// link is the path inside the layout made a symlink to a file
		// (or, for dir, a directory) outside it.
		link string
		dir  bool
	}{
		{name: "index.json", link: "index.json"},
		{name: "oci-layout", link: "oci-layout"},
		{name: "a blob the join writes", link: filepath.Join("blobs", "sha256", cfg.Hex)},
		{name: "blobs/sha256", link: filepath.Join("blobs", "sha256"), dir: true},
		{name: "blobs", link: "blobs", dir: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := t.TempDir()
			putIndexJSON(t, src, imageLayout(t, src, img))
			dst, outside := t.TempDir(), t.TempDir()
			for name, content := range map[string]string{"oci-layout": `{"imageLayoutVersion":"1.0.0"}`, "index.json": emptyIndex} {
				if err := os.WriteFile(filepath.Join(dst, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.MkdirAll(filepath.Join(dst, "blobs", "sha256"), 0o755); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(outside, "target")
			if tc.dir {
				if err := os.Mkdir(target, 0o755); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(target, []byte(emptyIndex), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(dst, tc.link)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(dst, tc.link)); err != nil {
				t.Fatal(err)
			}
			err := joinToLayout(t, src, dst)
			if !errors.Is(err, layout.ErrSymlink) {
				t.Errorf("join = %v, want ErrLayoutSymlink", err)
			}
			if tc.dir {
				if ents, err := os.ReadDir(target); err != nil || len(ents) > 0 {
					t.Errorf("the directory the symlink points at holds %v (%v), want nothing", ents, err)
				}
			} else if b, err := os.ReadFile(target); err != nil || string(b) != emptyIndex {
				t.Errorf("the file the symlink points at holds %q (%v), want it unchanged", b, err)
			}
		})
	}
}

// TestLayoutTargetDirSymlink: the layout directory the user names may
// be a symlink; the layout is written where it points.
func TestLayoutTargetDirSymlink(t *testing.T) {
	t.Parallel()
	img := archImage(t, "amd64")
	src := t.TempDir()
	putIndexJSON(t, src, imageLayout(t, src, img))
	under, link := t.TempDir(), filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(under, link); err != nil {
		t.Fatal(err)
	}
	if err := joinToLayout(t, src, link); err != nil {
		t.Fatalf("join = %v", err)
	}
	root, err := layout.Dir{Path: under}.RootIndex()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(root.Manifest.Manifests); got != 1 {
		t.Fatalf("index.json lists %d manifests, want 1", got)
	}
	if _, err := root.ImageIndex(root.Manifest.Manifests[0].Digest); err != nil {
		t.Errorf("reading the index back: %v", err)
	}
}
