package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// syncBuffer is an output stream the logger, the keychain's masks and the
// CI protocol may write to at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is what one run of the program left behind.
type result struct {
	code           int
	stdout, stderr string
}

// runAction runs the program with vars as its whole environment and args
// as its command line; nothing of the test process's environment leaks in.
func runAction(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr syncBuffer
	code := run(context.Background(), env{
		getenv: func(k string) string { return vars[k] },
		stdout: &stdout,
		stderr: &stderr,
		args:   args,
	})
	r := result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	t.Logf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	return r
}

// testRegistry is go-containerregistry's in-memory registry behind
// httptest, counting writes and refusing what refuse picks.
type testRegistry struct {
	host  string
	inner http.Handler
	// refuse picks requests answered 403 DENIED, as a registry answers a
	// credential without push rights.
	refuse func(r *http.Request) bool

	mu     sync.Mutex
	writes int
}

func newRegistry(t *testing.T, refuse func(r *http.Request) bool) *testRegistry {
	t.Helper()
	reg := &testRegistry{
		inner:  registry.New(registry.Logger(log.New(io.Discard, "", 0))),
		refuse: refuse,
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	reg.host = strings.TrimPrefix(srv.URL, "http://")
	return reg
}

func (reg *testRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		reg.mu.Lock()
		reg.writes++
		reg.mu.Unlock()
	}
	if reg.refuse != nil && reg.refuse(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`)
		return
	}
	reg.inner.ServeHTTP(w, r)
}

// writeCount is how many requests other than GET and HEAD reached the
// registry.
func (reg *testRegistry) writeCount() int {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.writes
}

// digest reads ref's digest from the registry through ggcr, independently
// of the code under test; ok is false when the registry does not have it.
func (reg *testRegistry) digest(t *testing.T, ref string) (v1.Hash, bool) {
	t.Helper()
	r, err := name.ParseReference(reg.host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		return v1.Hash{}, false
	}
	return d.Digest, true
}

// platformImage is a random OCI image whose config names platform p, as
// one job of a matrix builds it.
func platformImage(t *testing.T, p v1.Platform) v1.Image {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// layoutSources writes an OCI layout holding a linux/amd64 and a
// linux/arm64 image and returns the images input naming both.
func layoutSources(t *testing.T) string {
	t.Helper()
	// Not under t.TempDir: a subtest's name may hold the comma that
	// separates entries of the images input.
	tmp, err := os.MkdirTemp("", "oci-assemble-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(tmp); err != nil {
			t.Error(err)
		}
	})
	dir := filepath.Join(tmp, "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, arch := range []string{"amd64", "arm64"} {
		img := platformImage(t, v1.Platform{OS: "linux", Architecture: arch})
		tag := "linux-" + arch
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{specs.AnnotationRefName: tag})); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, "oci:"+dir+":"+tag)
	}
	return strings.Join(refs, ",")
}

// readFile returns the file's content, "" when it does not exist.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// fileCommands parses a GITHUB_OUTPUT file: NAME<<DELIMITER, the value's
// lines, DELIMITER (the runner's multi-line format), or NAME=VALUE.
func fileCommands(t *testing.T, content string) map[string]string {
	t.Helper()
	out := map[string]string{}
	lines := strings.Split(content, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if k, delim, ok := strings.Cut(l, "<<"); ok {
			var v []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				v = append(v, lines[i])
			}
			out[k] = strings.Join(v, "\n")
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok {
			out[k] = v
		}
	}
	return out
}
