package auth

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// env returns a getenv over a fixed map, so tests never touch the process
// environment.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// recorder collects what the keychain masks.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) mask(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, s)
}

func (r *recorder) masked(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.seen {
		if m == s {
			return true
		}
	}
	return false
}

// writeFile writes content to dir/rel, creating directories, and returns the
// path.
func writeFile(t *testing.T, dir, rel, content string) string {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// resource makes an authn.Resource as ggcr does: a repository when s has a
// path, else a registry.
func resource(t *testing.T, s string) authn.Resource {
	t.Helper()
	if strings.Contains(s, "/") {
		r, err := name.NewRepository(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r, err := name.NewRegistry(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// resolve returns the AuthConfig the keychain gives for s.
func resolve(t *testing.T, kc *Keychain, s string) authn.AuthConfig {
	t.Helper()
	a, err := kc.Resolve(resource(t, s))
	if err != nil {
		t.Fatalf("Resolve(%q): %v", s, err)
	}
	cfg, err := a.Authorization()
	if err != nil {
		t.Fatalf("Resolve(%q).Authorization(): %v", s, err)
	}
	return *cfg
}

// newKeychain builds a keychain or fails the test.
func newKeychain(t *testing.T, opts ...Option) *Keychain {
	t.Helper()
	kc, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return kc
}

// writeFileDir is writeFile for callers without a *testing.T at hand; it
// panics on error, which fails the test that called it.
func writeFileDir(dir, rel, content string) {
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		panic(err)
	}
}
