package layer

import (
	"archive/tar"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// randomTree writes a seeded tree whose names mix the characters that
// sort around "/" ('-', '.', ' ', '!' before it; '0', '_', 'é' after),
// with files, directories, symlinks and hardlinks.
func randomTree(t *testing.T, dir string, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	parts := []string{"a", "a-b", "a.b", "a b", "a!", "a0", "a_", "b", "é", "lib", "lib.so", "lib-dev", "z"}
	var files []string
	var mk func(d string, depth int)
	mk = func(d string, depth int) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for range 2 + rng.IntN(5) {
			p := filepath.Join(d, parts[rng.IntN(len(parts))])
			if _, err := os.Lstat(p); err == nil {
				continue
			}
			switch n := rng.IntN(10); {
			case n < 3 && depth < 3:
				mk(p, depth+1)
			case n < 5:
				if err := os.Symlink("../"+parts[rng.IntN(len(parts))], p); err != nil {
					t.Fatal(err)
				}
			case n < 6 && len(files) > 0:
				if err := os.Link(files[rng.IntN(len(files))], p); err != nil {
					t.Fatal(err)
				}
			default:
				if err := os.WriteFile(p, []byte(p), os.FileMode(0o600+rng.IntN(0o200))); err != nil {
					t.Fatal(err)
				}
				files = append(files, p)
			}
		}
	}
	mk(dir, 0)
}

func describe(name string, k kind, mode int64, src string, size int64, link string) string {
	return fmt.Sprintf("%s %d %o %s %d %s", name, k, mode, src, size, link)
}

// TestWalkMatchesPlan holds the streaming walk to the planner it replaced
// (plan_oracle_test.go) on seeded trees merged through several mappings:
// the same entries in the same order, and errors where it had errors.
func TestWalkMatchesPlan(t *testing.T) {
	t.Parallel()
	for seed := range uint64(40) {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			ws := t.TempDir()
			randomTree(t, filepath.Join(ws, "one"), seed)
			randomTree(t, filepath.Join(ws, "two"), seed+100)
			if err := os.WriteFile(filepath.Join(ws, "file"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			sep := string(filepath.Separator)
			mappings := [][]File{
				{{Src: filepath.Join(ws, "one") + sep, Dest: "/"}},
				{{Src: filepath.Join(ws, "one") + sep, Dest: "/"}, {Src: filepath.Join(ws, "two") + sep, Dest: "/"}},
				{{Src: filepath.Join(ws, "one"), Dest: "/srv/one"}, {Src: filepath.Join(ws, "two") + sep, Dest: "/srv/one/a"}},
				{{Src: filepath.Join(ws, "file"), Dest: "/usr/a-b/file"}, {Src: filepath.Join(ws, "two") + sep, Dest: "/usr"}},
				{{Src: filepath.Join(ws, "one") + sep, Dest: "/x"}, {Src: filepath.Join(ws, "one") + sep, Dest: "/x.d"}},
			}
			for i, files := range mappings {
				want, werr := oraclePlan(files)
				var got []string
				gerr := walk(files, func(e *entry) error {
					got = append(got, describe(e.name, e.kind, e.mode, e.src, e.size, e.link))
					return nil
				})
				if (werr != nil) != (gerr != nil) {
					t.Fatalf("mapping %d: walk error %v, plan error %v", i, gerr, werr)
				}
				if werr != nil {
					continue
				}
				wantS := make([]string, len(want))
				for j, e := range want {
					wantS[j] = describe(e.name, e.kind, e.mode, e.src, e.size, e.link)
				}
				if !slices.Equal(got, wantS) {
					t.Errorf("mapping %d: walk gave\n%s\nplan gave\n%s", i, strings.Join(got, "\n"), strings.Join(wantS, "\n"))
				}
			}
		})
	}
}

// TestManyFiles builds a layer of many small files in nested directories
// and reads it back: every file, in byte-wise path order, each once, with
// its own content.
func TestManyFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("writes, builds and reads back 20,000 files: run without -short")
	}
	t.Parallel()
	const dirs, perDir = 40, 500
	ws := t.TempDir()
	want := map[string]string{}
	for d := range dirs {
		dir := filepath.Join(ws, "tree", fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range perDir {
			name := fmt.Sprintf("f%05d.txt", f)
			if f%7 == 0 {
				name = fmt.Sprintf("f%05d", f) // sorts before its ".txt" sibling
			}
			content := fmt.Sprintf("%d/%d\n", d, f)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			want["data/"+fmt.Sprintf("d%03d", d)+"/"+name] = content
		}
	}
	r, ok, err := Expand(Spec{Files: []File{{Src: "tree/", Dest: "/data/"}}}, amd64, ws)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	b, err := NewBuilder(r)
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.Layer()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	files := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		names = append(names, name)
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		files++
		got, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want[name] {
			t.Errorf("%s holds %q, want %q", name, got, want[name])
		}
	}
	if got, want := files, dirs*perDir; got != want {
		t.Errorf("layer holds %d files, want %d", got, want)
	}
	if got, want := len(names), 1+dirs+dirs*perDir; got != want {
		t.Errorf("layer holds %d entries, want %d", got, want)
	}
	if !slices.IsSorted(names) {
		t.Error("entries are not in byte-wise path order")
	}
	if len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Error("an entry appears twice")
	}
}
