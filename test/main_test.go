// Package test holds end-to-end tests: they build the oci-assemble binary,
// run it as GitHub and GitLab would, against real distribution registries
// on loopback, and check what it published through the registry API and
// skopeo rather than through oci-assemble's own code.
package test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

var (
	// binary is oci-assemble built for this run: static (CGO off), so the
	// habitat tests put the same file into their images.
	binary string
	// e2eDir is this run's temporary directory, removed at the end.
	e2eDir string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "oci-assemble-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	e2eDir = dir
	binary = filepath.Join(dir, "oci-assemble")
	// Static and with the Dockerfile's -trimpath: the habitat tests put
	// this file into images, and their podman build of the Dockerfile then
	// finds its packages in the shared build cache.
	build := exec.Command("go", "build", "-trimpath", "-o", binary, "../cmd/oci-assemble")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building oci-assemble:", err)
		os.Exit(1)
	}
	// registrytest.Main says which tests were skipped for a missing tool.
	code := registrytest.Main(m)
	removeHabitatImages()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
	outputs        map[string]string // from GITHUB_OUTPUT
	summary        string            // GITHUB_STEP_SUMMARY
}

// runAction runs the binary as a GitHub docker action: inputs as INPUT_*
// variables, outputs and summary through the runner's files.
func runAction(t *testing.T, inputs map[string]string, extraEnv ...string) result {
	t.Helper()
	dir := t.TempDir()
	outFile, sumFile := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	for _, f := range []string{outFile, sumFile} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GITHUB_ACTIONS=true",
		"GITHUB_OUTPUT=" + outFile, "GITHUB_STEP_SUMMARY=" + sumFile,
	}
	for k, v := range inputs {
		env = append(env, "INPUT_"+strings.ToUpper(k)+"="+v)
	}
	env = append(env, extraEnv...)
	r := exec1(t, env)
	r.outputs = parseOutputFile(t, outFile)
	sum, err := os.ReadFile(sumFile)
	if err != nil {
		t.Fatal(err)
	}
	r.summary = string(sum)
	return r
}

// runCLI runs the binary with flags, as a GitLab job or a person would.
func runCLI(t *testing.T, args []string, extraEnv ...string) result {
	t.Helper()
	env := append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, extraEnv...)
	return exec1(t, env, args...)
}

func exec1(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return execIn(t, "", env, args...)
}

// execIn runs the binary in dir (the test's own when empty) with env and
// args, and fails the test if it could not run or panicked.
func execIn(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running oci-assemble: %v", err)
	}
	if strings.Contains(r.stdout+r.stderr, "goroutine ") || strings.Contains(r.stdout+r.stderr, "panic:") {
		t.Fatalf("oci-assemble panicked:\n%s\n%s", r.stdout, r.stderr)
	}
	return r
}

// parseOutputFile reads GitHub's NAME<<DELIM ... DELIM output format.
func parseOutputFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if k, delim, ok := strings.Cut(l, "<<"); ok {
			var val []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				val = append(val, lines[i])
			}
			out[k] = strings.Join(val, "\n")
		} else if k, v, ok := strings.Cut(l, "="); ok {
			out[k] = v
		}
	}
	return out
}
