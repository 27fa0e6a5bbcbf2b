package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/owner"
)

// TestWorkspaceFilesGoToItsOwner: run as root, the oci: layout target and
// the dotenv report written under the workspace are given to the
// workspace's owner; a target outside it is left alone, and so is
// everything when the program does not run as root.
func TestWorkspaceFilesGoToItsOwner(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		euid int
		want []string
	}{
		{"root", 0, []string{"oci-assemble.env", "out", "out/app", "out/app/index.json", "out/app/oci-layout"}},
		{"not root", 1001, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ws, elsewhere := t.TempDir(), t.TempDir()
			if err := os.WriteFile(filepath.Join(ws, "a.txt"), []byte("a"), 0o644); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var got []string
			vars := map[string]string{"GITLAB_CI": "true", "CI_PROJECT_DIR": ws}
			var stdout, stderr syncBuffer
			code := run(context.Background(), env{
				getenv: func(k string) string { return vars[k] },
				stdout: &stdout, stderr: &stderr,
				args: []string{"--base", "scratch", "--platforms", "linux/amd64",
					"--layers", "- files: [" + filepath.Join(ws, "a.txt") + ":/a.txt]",
					"--tags", "oci:" + filepath.Join(ws, "out", "app") + ":1,oci:" + filepath.Join(elsewhere, "app") + ":1",
					"--dotenv", filepath.Join(ws, "oci-assemble.env")},
				geteuid: func() int { return tc.euid },
				getwd:   func() (string, error) { return ws, nil },
				ownerOpts: []owner.Option{
					owner.WithOwnerOf(func(p string) (int, int, error) {
						if _, err := os.Lstat(p); err != nil {
							return 0, 0, err
						}
						if p == ws {
							return 1001, 127, nil
						}
						return 0, 0, nil
					}),
					owner.WithLchown(func(p string, uid, gid int) error {
						mu.Lock()
						defer mu.Unlock()
						if rel, err := filepath.Rel(ws, p); err == nil && (uid != 1001 || gid != 127) {
							t.Errorf("lchown(%s, %d, %d), want 1001:127", rel, uid, gid)
						}
						if rel, err := filepath.Rel(ws, p); err == nil && filepath.Dir(rel) != filepath.Join("out", "app", "blobs", "sha256") {
							got = append(got, filepath.ToSlash(rel))
						}
						return nil
					}),
				},
			})
			if code != exitOK {
				t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
			}
			slices.Sort(got)
			want := tc.want
			if want != nil {
				want = append(want, "out/app/blobs", "out/app/blobs/sha256")
				slices.Sort(want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("chowned %q, want %q", got, want)
			}
		})
	}
}
