package layer

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestFileDigests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "src", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"src/a.txt": "alpha\n", "src/sub/b.bin": "beta"}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "src", "link")); err != nil {
		t.Fatal(err)
	}
	r, _, err := Expand(Spec{Files: []File{{Src: "src/", Dest: "/opt/app/"}}}, v1.Platform{OS: "linux", Architecture: "amd64"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBuilder(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.FileDigests()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"opt/app/a.txt":     fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("alpha\n"))),
		"opt/app/sub/b.bin": fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("beta"))),
	}
	if len(got) != len(want) {
		t.Fatalf("FileDigests() = %v, want the %d regular files %v (no directory, no symlink)", got, len(want), want)
	}
	for _, f := range got {
		if want[f.Path] != f.SHA256.String() {
			t.Errorf("%s: %s, want %s", f.Path, f.SHA256, want[f.Path])
		}
	}
}
