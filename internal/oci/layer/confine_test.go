package layer

import (
	"archive/tar"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/oci-assemble/oci-assemble/internal/platform"
)

const secret = "token=outside-the-workspace\n"

// confineTree makes root/ws, the workspace, and root/outside, a directory
// beside it holding a secret, plus symlinks in the workspace that lead
// out, stay in, or sit inside a copied directory.
func confineTree(t testing.TB) (ws, outside string) {
	t.Helper()
	root := t.TempDir()
	ws, outside = filepath.Join(root, "ws"), filepath.Join(root, "outside")
	for _, d := range []string{outside, filepath.Join(ws, "dist/linux-amd64"), filepath.Join(ws, "dist/tree")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, content := range map[string]string{
		filepath.Join(outside, "config"):            secret,
		filepath.Join(ws, "dist/linux-amd64/app"):   "app\n",
		filepath.Join(ws, "dist/tree/readme"):       "readme\n",
		filepath.Join(ws, "dist/linux-amd64/notes"): "notes\n",
	} {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"dist/out":      outside,           // absolute, out
		"dist/up":       "../../outside",   // relative, out
		"dist/root":     "/",               // the whole runner
		"dist/alias":    "linux-amd64",     // stays in
		"dist/tree/etc": outside,           // inside a copied directory
		"wslink":        ".",               // the workspace itself
		"dist/loop":     "loop",            // never resolves
		"dist/inward":   "../dist/../dist", // climbs and comes back
	} {
		if err := os.Symlink(target, filepath.Join(ws, link)); err != nil {
			t.Fatal(err)
		}
	}
	return ws, outside
}

// TestExpandStaysInWorkspace: a relative SRC, once placeholders are
// filled and symlinks resolved, must lie in the workspace; only an
// absolute SRC the user wrote names files elsewhere. Symlinks that are
// copied (a SRC without "/" that is a link, a link inside a copied
// directory) stay symlinks and are not followed.
func TestExpandStaysInWorkspace(t *testing.T) {
	t.Parallel()
	ws, outside := confineTree(t)
	hostile := v1.Platform{OS: "linux", Architecture: "amd64", Variant: "x/../../../outside"}
	tests := []struct {
		name    string
		file    File
		p       v1.Platform
		wantErr error  // nil: expands
		want    string // an image path the layer must hold, when it expands
		link    string // its symlink target, "" for a regular file or directory
	}{
		{name: "variant from a base image climbs out", file: File{"dist/{platform}/", "/app/"}, p: hostile, wantErr: platform.ErrInvalid},
		{name: "variant climbs in an absolute SRC", file: File{filepath.Join(ws, "dist/{variant}/"), "/app/"}, p: hostile, wantErr: platform.ErrInvalid},
		{name: "typed .. climbs out", file: File{"../outside/", "/app/"}, p: amd64, wantErr: ErrOutside},
		{name: "typed .. to a file", file: File{"dist/../../outside/config", "/app/config"}, p: amd64, wantErr: ErrOutside},
		{name: "contents through a symlink out", file: File{"dist/out/", "/app/"}, p: amd64, wantErr: ErrOutside},
		{name: "contents through a relative symlink out", file: File{"dist/up/", "/app/"}, p: amd64, wantErr: ErrOutside},
		{name: "file below a symlink out", file: File{"dist/out/config", "/app/config"}, p: amd64, wantErr: ErrOutside},
		{name: "file below a symlink to /", file: File{"dist/root/" + strings.TrimPrefix(filepath.Join(outside, "config"), "/"), "/app/config"}, p: amd64, wantErr: ErrOutside},
		{name: "directory below a symlink to /", file: File{"dist/root/" + strings.TrimPrefix(outside, "/") + "/", "/app/"}, p: amd64, wantErr: ErrOutside},
		{name: "empty variant does not make SRC absolute", file: File{"{variant}" + outside + "/", "/app/"}, p: amd64, wantErr: fs.ErrNotExist},
		{name: "symlink loop", file: File{"dist/loop/", "/app/"}, p: amd64, wantErr: ErrInput},
		{name: "absolute SRC the user wrote", file: File{outside + "/", "/app/"}, p: amd64, want: "app/config"},
		{name: "symlink that stays in", file: File{"dist/alias/", "/app/"}, p: amd64, want: "app/app"},
		{name: "symlink that climbs and comes back", file: File{"dist/inward/linux-amd64/app", "/app"}, p: amd64, want: "app"},
		{name: "workspace through a symlink", file: File{"wslink/dist/{os}-{arch}/", "/app/"}, p: amd64, want: "app/notes"},
		{name: "the workspace itself", file: File{".", "/ws"}, p: amd64, want: "ws/dist/linux-amd64/app"},
		{name: "a symlink SRC out is copied as a symlink", file: File{"dist/out", "/app/out"}, p: amd64, want: "app/out", link: outside},
		{name: "a symlink out inside a copied directory stays a symlink", file: File{"dist/tree/", "/app/"}, p: amd64, want: "app/etc", link: outside},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, _, err := Expand(Spec{Files: []File{tt.file}}, tt.p, ws)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Expand(%q) = %+v, %v; want an error matching %v", tt.file.Src, r.Files, err, tt.wantErr)
				}
				if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || !strings.Contains(msg, "layer") {
					t.Errorf("Expand(%q) error = %q, want one line naming the layer", tt.file.Src, msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Expand(%q) = %v", tt.file.Src, err)
			}
			b, err := NewBuilder(r, WithCreated(testCreated))
			if err != nil {
				t.Fatal(err)
			}
			entries := readLayer(t, layersOf(t, []*Builder{b})[0])
			found := false
			for _, e := range entries {
				if e.content == secret && !strings.HasPrefix(tt.file.Src, "/") {
					t.Errorf("the layer holds %s with the secret from outside the workspace", e.hdr.Name)
				}
				if strings.TrimSuffix(e.hdr.Name, "/") != tt.want {
					continue
				}
				found = true
				if tt.link != "" && (e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != tt.link) {
					t.Errorf("%s is type %c -> %q, want a symlink to %q", tt.want, e.hdr.Typeflag, e.hdr.Linkname, tt.link)
				}
			}
			if !found {
				t.Errorf("the layer lacks %s", tt.want)
			}
		})
	}
}
