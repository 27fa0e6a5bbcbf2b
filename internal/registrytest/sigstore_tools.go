package registrytest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sigstoreVersions are the versions .ci/run installs, which the tests were
// written against.
var sigstoreVersions = map[string]string{
	"cosign":           "v3.1.3",
	"cosign2":          "v2.6.5",
	"fulcio":           "v1.8.8",
	"timestamp-server": "v1.2.9",
}

// SigstoreBinary returns the path of a Sigstore tool: cosign (v3),
// cosign2 (cosign v2 under that name), fulcio or timestamp-server. It is
// found through OCI_ASSEMBLE_<NAME> (upper case, '-' as '_'), then PATH,
// then GOPATH/bin; when missing the test is skipped locally and fails
// under CI.
func SigstoreBinary(t testing.TB, name string) string {
	t.Helper()
	env := "OCI_ASSEMBLE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if p := findBinary(env, name); p != "" {
		return p
	}
	MissingTool(t, fmt.Sprintf("%s %s not installed (set %s or put %s on PATH; .ci/run installs it)", name, sigstoreVersions[name], env, name))
	return ""
}

// Cosign runs a cosign binary (SigstoreBinary name "cosign" or "cosign2")
// with args and the extra environment env, in a fresh HOME so no cached
// TUF root or config of the machine is used, and returns its combined
// output and error.
func Cosign(t testing.TB, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "TUF_ROOT="+filepath.Join(home, "sigstore"), "SIGSTORE_NO_CACHE=true")
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
