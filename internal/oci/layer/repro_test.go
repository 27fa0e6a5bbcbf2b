//go:build unix

package layer

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
)

// Helper processes: the tests below re-run this test binary with one of
// these set, so that process-wide state (umask, heap, TMPDIR) is the child's
// alone and the parent tests can run in parallel.
const (
	envTreeDir   = "OCI_ASSEMBLE_LAYER_TEST_TREE_DIR"
	envTreeUmask = "OCI_ASSEMBLE_LAYER_TEST_TREE_UMASK"
	envMemData   = "OCI_ASSEMBLE_LAYER_TEST_MEM_DATA"
	helperRan    = "helper process ran"
)

func runHelper(t *testing.T, test string, env ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), helperRan) {
		t.Fatalf("helper %s: %v\n%s", test, err, out)
	}
	return string(out)
}

func TestHelperMakeTree(t *testing.T) {
	dir := os.Getenv(envTreeDir)
	if dir == "" {
		t.Skip("helper process for TestReproducible")
	}
	mask, err := strconv.ParseUint(os.Getenv(envTreeUmask), 8, 32)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Umask(int(mask))
	makeTree(t, dir)
	t.Log(helperRan)
}

// TestReproducible builds the same layers from two copies of the tree, made
// under umask 000 and 022 (equal modes on disk) in different directories,
// and from the first copy twice: layer and image digests must be equal.
func TestReproducible(t *testing.T) {
	t.Parallel()
	var trees []string
	for _, mask := range []string{"000", "022"} {
		dir := filepath.Join(t.TempDir(), "ws-"+mask)
		runHelper(t, "TestHelperMakeTree", envTreeDir+"="+dir, envTreeUmask+"="+mask)
		trees = append(trees, dir)
	}
	if a, b := modes(t, trees[0]), modes(t, trees[1]); a != b {
		t.Fatalf("precondition: modes on disk differ:\n%s\n%s", a, b)
	}
	for _, c := range []Compression{Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, ws := range []string{trees[0], trees[0], trees[1]} {
				bs, hs := buildLayers(t, testSpecs, ws, arm64, WithCompression(c, 0))
				ls := layersOf(t, bs)
				var sum []string
				for _, l := range ls {
					readAll(t, l)
					d, err := l.Digest()
					if err != nil {
						t.Fatal(err)
					}
					sum = append(sum, d.String())
				}
				img, err := Build(empty.Image, arm64, ls, hs, ConfigChanges{Env: []string{"A=1"}}, testCreated)
				if err != nil {
					t.Fatal(err)
				}
				d, err := img.Digest()
				if err != nil {
					t.Fatal(err)
				}
				sum = append(sum, "image "+d.String())
				got = append(got, strings.Join(sum, " "))
			}
			t.Logf("%s: %s", c, got[0])
			for i, g := range got[1:] {
				if g != got[0] {
					t.Errorf("build %d = %s, want %s", i+1, g, got[0])
				}
			}
		})
	}
}

// modes lists relative path and mode of everything under dir.
func modes(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b.WriteString(rel + " " + fi.Mode().String() + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

const (
	memDataSize = 64 << 20
	memBound    = 48 << 20
)

func TestHelperMemory(t *testing.T) {
	data := os.Getenv(envMemData)
	if data == "" {
		t.Skip("helper process for TestStreamingMemoryBound")
	}
	for _, c := range []Compression{Gzip, Zstd} {
		r, ok, err := Expand(Spec{Files: []File{{Src: "random", Dest: "/data/random"}}}, amd64, data)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		b, err := NewBuilder(r, WithCompression(c, 0))
		if err != nil {
			t.Fatal(err)
		}
		l, err := b.Layer()
		if err != nil {
			t.Fatal(err)
		}
		peak := measurePeakHeap(t, func() { readDiscard(t, l) })
		size, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d MiB in, %d MiB out, peak heap growth %.1f MiB", c, memDataSize>>20, size>>20, float64(peak)/(1<<20))
		if size < memDataSize {
			t.Errorf("%s: compressed size %d, want at least the random input's %d", c, size, memDataSize)
		}
		if peak > memBound {
			t.Errorf("%s: peak heap growth %d MiB while streaming %d MiB, want under %d MiB", c, peak>>20, memDataSize>>20, memBound>>20)
		}
	}
	t.Log(helperRan)
}

// measurePeakHeap samples the heap while f runs and returns the largest
// growth over the heap before it.
func measurePeakHeap(t *testing.T, f func()) uint64 {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	var (
		mu   sync.Mutex
		peak uint64
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var s runtime.MemStats
		for {
			runtime.ReadMemStats(&s)
			mu.Lock()
			peak = max(peak, s.HeapAlloc)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	if peak < before {
		return 0
	}
	return peak - before
}

// TestStreamingMemoryBound streams a 64 MiB layer of random data in a child
// process (so other tests do not share its heap) and checks that the heap
// grows far less than the layer and that nothing is written to TMPDIR.
func TestStreamingMemoryBound(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	writeRandom(t, filepath.Join(data, "random"), memDataSize)
	tmp := t.TempDir() // empty, the child's TMPDIR
	out := runHelper(t, "TestHelperMemory", envMemData+"="+data, "TMPDIR="+tmp)
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "peak heap") {
			t.Log(strings.TrimSpace(line))
		}
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("TMPDIR holds %d entries after building, want none: %v", len(left), left)
	}
}

func writeRandom(t *testing.T, name string, size int) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, 1<<20)
	for n := 0; n < size; n += len(buf) {
		rng.Read(buf) //nolint:errcheck // ChaCha8.Read never fails
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
