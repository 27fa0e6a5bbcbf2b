package registrytest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// HtpasswdConfig writes a bcrypt htpasswd file with one user and returns the
// registry configuration that enables it, for WithConfig. distribution
// documents htpasswd auth for TLS registries only: use it with WithTLS.
func HtpasswdConfig(t testing.TB, user, password string) string {
	t.Helper()
	// MinCost keeps the registry's check of every request fast.
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, fmt.Appendf(nil, "%s:%s\n", user, hash), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("auth:\n  htpasswd:\n    realm: registrytest\n    path: %s\n", path)
}
