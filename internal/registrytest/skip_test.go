package registrytest

import (
	"bytes"
	"strings"
	"testing"
)

// TestMissingToolReported: a test skipped for a missing tool is listed,
// with why, in what Main prints after the run; under CI it fails instead
// (not run here: it would fail this test).
func TestMissingToolReported(t *testing.T) {
	t.Setenv("CI", "") // the skip path; no t.Parallel with Setenv
	t.Run("needs frobnicator", func(t *testing.T) {
		MissingTool(t, "frobnicator not installed")
		t.Error("MissingTool returned: want the test skipped")
	})
	var b bytes.Buffer
	report(&b)
	want := "    TestMissingToolReported/needs_frobnicator: frobnicator not installed\n"
	if !strings.HasPrefix(b.String(), "SKIPPED ") || !strings.Contains(b.String(), want) {
		t.Errorf("report =\n%s\nwant a SKIPPED line and %q", b.String(), want)
	}
}
