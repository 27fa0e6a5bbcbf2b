package registrytest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// skipped are the tests of this test binary that MissingTool skipped.
// It is state of the process on purpose: the tests run in parallel in one
// binary, and its TestMain (Main) reports them together once they end.
var skipped struct {
	mu   sync.Mutex
	list []string // "TestName: why"
}

// MissingTool skips t because a tool it needs (a registry, skopeo,
// oras...) is missing, and records the skip for Main to report; under CI
// (CI set) it fails t instead, so a missing install step cannot pass for
// a green run.
func MissingTool(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	skipped.mu.Lock()
	skipped.list = append(skipped.list, t.Name()+": "+msg)
	skipped.mu.Unlock()
	t.Skip(msg)
}

// Main runs the tests and returns the exit code, for a TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(registrytest.Main(m)) }
//
// When tests were skipped for a missing tool it says which and why. `go
// test ./...` shows a passing package's output only with -v, and would
// print a bare "ok" over skipped end-to-end tests: so the list also goes
// straight to the terminal (/dev/tty), where there is one, which go test
// does not capture.
func Main(m *testing.M) int {
	code := m.Run()
	report(os.Stderr)
	if !testing.Verbose() {
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			report(tty)
			tty.Close()
		}
	}
	return code
}

// report writes the skipped tests to w, nothing when none was.
func report(w io.Writer) {
	skipped.mu.Lock()
	list := slices.Clone(skipped.list)
	skipped.mu.Unlock()
	if len(list) == 0 {
		return
	}
	slices.Sort(list)
	// A test binary is named after its package: oci.test.
	exe, _ := os.Executable()
	pkg := strings.TrimSuffix(filepath.Base(exe), ".test")
	fmt.Fprintf(w, "SKIPPED %d end-to-end tests of package %s for missing tools (README, Development, lists them; CI=true fails instead):\n", len(list), pkg)
	for _, s := range list {
		fmt.Fprintf(w, "    %s\n", s)
	}
}
