package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
)

// helperScript is docker-credential-test: it answers "get" from a fixed
// table, logs every server it is asked about, and fails for fail.example.
const helperScript = `#!/bin/sh
[ "$1" = get ] || { echo "unsupported action $1"; exit 1; }
server=$(cat)
echo "$server" >> "$(dirname "$0")/calls.log"
case "$server" in
  helper.example) echo '{"ServerURL":"helper.example","Username":"hu","Secret":"helper-secret-Kd8"}' ;;
  store.example) echo '{"ServerURL":"store.example","Username":"su","Secret":"store-secret-Pw3"}' ;;
  https://index.docker.io/v1/) echo '{"Username":"hubuser","Secret":"hub-secret-Q2m"}' ;;
  token.example) echo '{"Username":"<token>","Secret":"helper-idtoken-Lx5"}' ;;
  fail.example) echo "helper exploded"; exit 1 ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`

// installHelper writes docker-credential-test into a new directory and puts
// it first on PATH. docker/cli runs helpers with exec.Command, which looks
// them up in the process's PATH: there is no way to inject it, so tests that
// use a helper set PATH with t.Setenv and are not parallel.
func installHelper(t *testing.T) (dir string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-test"), []byte(helperScript), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

// TestCredentialHelpers is not parallel: see installHelper.
func TestCredentialHelpers(t *testing.T) {
	helperDir := installHelper(t)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "config.json", `{
		"credsStore": "test",
		"credHelpers": {"helper.example": "test", "token.example": "test", "missing.example": "test", "fail.example": "test", "nohelper.example": "absent"},
		"auths": {
			"missing.example": {"auth": "`+b64("fileuser:file-pw")+`"},
			"store.example/org": {"auth": "`+b64("orguser:org-pw")+`"}
		}
	}`)
	m := &recorder{}
	kc := newKeychain(t, WithGetenv(env(map[string]string{"DOCKER_CONFIG": dir})), WithMask(m.mask))
	tests := []struct {
		name       string
		resource   string
		want       authn.AuthConfig
		wantSource string
		wantErr    bool
	}{{
		name: "credHelpers", resource: "helper.example/a",
		want:       authn.AuthConfig{Username: "hu", Password: "helper-secret-Kd8"},
		wantSource: "docker config " + cfg + ` (credHelpers "helper.example": "test")`,
	}, {
		name: "credsStore", resource: "store.example/a",
		want:       authn.AuthConfig{Username: "su", Password: "store-secret-Pw3"},
		wantSource: "docker config " + cfg + ` (credsStore "test")`,
	}, {
		name: "repository auths beat credsStore", resource: "store.example/org/a",
		want:       authn.AuthConfig{Username: "orguser", Password: "org-pw"},
		wantSource: "docker config " + cfg + ` (auths "store.example/org")`,
	}, {
		name: "credsStore for Docker Hub", resource: "docker.io/library/alpine",
		want:       authn.AuthConfig{Username: "hubuser", Password: "hub-secret-Q2m"},
		wantSource: "docker config " + cfg + ` (credsStore "test")`,
	}, {
		name: "identity token from helper", resource: "token.example/a",
		want:       authn.AuthConfig{IdentityToken: "helper-idtoken-Lx5"},
		wantSource: "docker config " + cfg + ` (credHelpers "token.example": "test")`,
	}, {
		name: "helper without credential falls back to auths", resource: "missing.example/a",
		want:       authn.AuthConfig{Username: "fileuser", Password: "file-pw"},
		wantSource: "docker config " + cfg + ` (auths "missing.example")`,
	}, {
		name: "nothing anywhere", resource: "none.example/a",
		wantSource: "no credentials",
	}, {
		name: "failing helper", resource: "fail.example/a", wantErr: true,
		wantSource: "docker config " + cfg + ` (credHelpers "fail.example": "test") (credential helper failed)`,
	}, {
		name: "helper not installed", resource: "nohelper.example/a", wantErr: true,
		wantSource: "docker config " + cfg + ` (credHelpers "nohelper.example": "absent") (credential helper failed)`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := kc.Resolve(resource(t, tt.resource))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Resolve(%q) succeeded, want an error", tt.resource)
				}
				if !strings.Contains(err.Error(), "docker-credential-") {
					t.Errorf("Resolve() error = %q, want it to name the helper", err)
				}
			} else {
				if err != nil {
					t.Fatalf("Resolve(%q): %v", tt.resource, err)
				}
				got, err := a.Authorization()
				if err != nil {
					t.Fatal(err)
				}
				if *got != tt.want {
					t.Errorf("Resolve(%q) = %+v, want %+v", tt.resource, *got, tt.want)
				}
			}
			if got := kc.Source(resource(t, tt.resource)); got != tt.wantSource {
				t.Errorf("Source(%q) = %q, want %q", tt.resource, got, tt.wantSource)
			}
		})
	}
	for _, s := range []string{"helper-secret-Kd8", "store-secret-Pw3", "hub-secret-Q2m", "helper-idtoken-Lx5"} {
		if !m.masked(s) {
			t.Errorf("helper secret %q was not masked", s)
		}
	}
	// Each helper and address is asked once, however often it is resolved.
	calls, err := os.ReadFile(filepath.Join(helperDir, "calls.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(calls), "helper.example\n"); n != 1 {
		t.Errorf("helper asked about helper.example %d times, want 1:\n%s", n, calls)
	}
}
