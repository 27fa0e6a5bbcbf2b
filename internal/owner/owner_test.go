package owner

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

// tree makes ws/out/app/{index.json,blobs/sha256/x}, ws/report.env and a
// symlink, and returns ws.
func tree(t *testing.T) string {
	t.Helper()
	ws := filepath.Join(t.TempDir(), "ws")
	for _, f := range []string{"out/app/index.json", "out/app/blobs/sha256/x", "report.env", "src/kept.txt"} {
		p := filepath.Join(ws, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(ws, "out", "app", "link")); err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestGive(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		euid      int
		wsOwner   [2]int
		preOwned  []string // relative paths the user already owns (uid 1001)
		path      string   // relative to ws unless absolute
		want      []string // chowned, relative to ws
		wantError bool
	}{
		{name: "layout tree and the directory made on the way", euid: 0, wsOwner: [2]int{1001, 127}, path: "out/app",
			want: []string{"out", "out/app", "out/app/blobs", "out/app/blobs/sha256", "out/app/blobs/sha256/x", "out/app/index.json", "out/app/link"}},
		{name: "a directory the user owns already is left alone", euid: 0, wsOwner: [2]int{1001, 127}, path: "out/app", preOwned: []string{"out"},
			want: []string{"out/app", "out/app/blobs", "out/app/blobs/sha256", "out/app/blobs/sha256/x", "out/app/index.json", "out/app/link"}},
		{name: "one file", euid: 0, wsOwner: [2]int{1001, 127}, path: "report.env", want: []string{"report.env"}},
		{name: "not root: nothing", euid: 1001, wsOwner: [2]int{1001, 127}, path: "out/app"},
		{name: "root's workspace: nothing", euid: 0, wsOwner: [2]int{0, 0}, path: "out/app"},
		{name: "outside the workspace: nothing", euid: 0, wsOwner: [2]int{1001, 127}, path: "/tmp/elsewhere/app"},
		{name: "dot-dot out of the workspace: nothing", euid: 0, wsOwner: [2]int{1001, 127}, path: "out/../../ws2/app"},
		{name: "the workspace itself: nothing", euid: 0, wsOwner: [2]int{1001, 127}, path: "."},
		{name: "nothing written: nothing", euid: 0, wsOwner: [2]int{1001, 127}, path: "missing/app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ws := tree(t)
			var got []string
			lchown := func(p string, uid, gid int) error {
				if uid != tc.wsOwner[0] || gid != tc.wsOwner[1] {
					t.Errorf("lchown(%s, %d, %d), want the workspace's %v", p, uid, gid, tc.wsOwner)
				}
				rel, err := filepath.Rel(ws, p)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, filepath.ToSlash(rel))
				return nil
			}
			ownerOf := func(p string) (int, int, error) {
				if p == ws {
					return tc.wsOwner[0], tc.wsOwner[1], nil
				}
				if _, err := os.Lstat(p); err != nil {
					return 0, 0, err
				}
				rel, _ := filepath.Rel(ws, p)
				if slices.Contains(tc.preOwned, filepath.ToSlash(rel)) {
					return 1001, 127, nil
				}
				return 0, 0, nil
			}
			path := tc.path
			if !filepath.IsAbs(path) {
				path = filepath.Join(ws, path)
			}
			err := Give(ws, path, WithEUID(func() int { return tc.euid }), WithLchown(lchown), WithOwnerOf(ownerOf))
			if (err != nil) != tc.wantError {
				t.Fatalf("Give() error = %v", err)
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("chowned %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGiveReportsFailures(t *testing.T) {
	t.Parallel()
	ws := tree(t)
	denied := errors.New("operation not permitted")
	err := Give(ws, filepath.Join(ws, "report.env"),
		WithEUID(func() int { return 0 }),
		WithOwnerOf(func(string) (int, int, error) { return 1001, 127, nil }),
		WithLchown(func(string, int, int) error { return denied }))
	if !errors.Is(err, denied) {
		t.Errorf("Give() = %v, want it to wrap %v", err, denied)
	}
}

// TestGiveForReal changes owners on disk when the test runs as root.
func TestGiveForReal(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to change owners")
	}
	ws := tree(t)
	if err := os.Chown(ws, 1001, 127); err != nil {
		t.Fatal(err)
	}
	if err := Give(ws, filepath.Join(ws, "out", "app")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"out", "out/app/blobs/sha256/x", "out/app/link"} {
		uid, gid, err := lstatOwner(filepath.Join(ws, p))
		if err != nil || uid != 1001 || gid != 127 {
			t.Errorf("%s owned by %d:%d (%v), want 1001:127", p, uid, gid, err)
		}
	}
	if uid, _, _ := lstatOwner(filepath.Join(ws, "src", "kept.txt")); uid != 0 {
		t.Errorf("src/kept.txt, outside the path, was changed to %d", uid)
	}
	if uid, _, _ := lstatOwner("/etc/passwd"); uid != 0 {
		t.Errorf("the symlink was followed: /etc/passwd owned by %d", uid)
	}
}
