package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestGitLabDotenvAndSections runs a per-arch layer build as a GitLab job:
// flags instead of inputs, collapsible log sections, and a dotenv report
// whose per-platform variable the join job then uses.
func TestGitLabDotenvAndSections(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	ws := workspace(t, map[string]string{"dist/linux-arm64/app": "arm64 binary", "static/index.html": "hi"}, nil)
	dotenv := filepath.Join(t.TempDir(), "build.env")
	res := runCLI(t, []string{
		"--base", "scratch", "--platforms", "linux/arm64/v8", "--layers", layersYAML,
		"--tags", reg.Host + "/o/app", "--insecure-registries", reg.Host, "--dotenv", dotenv,
	}, "GITLAB_CI=true", "GITHUB_WORKSPACE="+ws)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stdout, "section_start:") || !strings.Contains(res.stdout, "section_end:") || strings.Contains(res.stdout, "::group::") {
		t.Errorf("want GitLab sections, not GitHub groups:\n%s", res.stdout)
	}
	b, err := os.ReadFile(dotenv)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || v == "" || strings.ContainsAny(v, `"' `) {
			t.Errorf("dotenv line %q is not plain KEY=value", line)
		}
		vars[k] = v
	}
	for _, k := range []string{"OCI_ASSEMBLE_DIGEST", "OCI_ASSEMBLE_IMAGE", "OCI_ASSEMBLE_DIGEST_LINUX_ARM64_V8"} {
		if vars[k] == "" {
			t.Errorf("dotenv lacks %s:\n%s", k, b)
		}
	}
	// The join job reads the per-platform variable.
	join := runCLI(t, []string{
		"--images", reg.Host + "/o/app@" + vars["OCI_ASSEMBLE_DIGEST_LINUX_ARM64_V8"],
		"--tags", reg.Host + "/o/app:1", "--insecure-registries", reg.Host,
		"--dotenv", filepath.Join(t.TempDir(), "join.env"),
	}, "GITLAB_CI=true")
	if join.code != 0 {
		t.Fatalf("join: exit %d\n%s\n%s", join.code, join.stdout, join.stderr)
	}
	idx, _ := readIndex(t, reg, "o/app", "1")
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != vars["OCI_ASSEMBLE_DIGEST_LINUX_ARM64_V8"] {
		t.Errorf("joined index = %+v", idx.Manifests)
	}
}

// TestTimeoutBoundsTheJob: a job past its timeout stops with an error
// naming the timeout input, and no tag moves.
func TestTimeoutBoundsTheJob(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	push(t, reg.Host+"/o/app:tmp", platformImage(t, amd64))
	res := runAction(t, map[string]string{
		"images": reg.Host + "/o/app:tmp", "tags": reg.Host + "/o/app:1",
		"insecure-registries": reg.Host, "timeout": "1ns",
	})
	if res.code != 2 {
		t.Errorf("exit %d, want 2\n%s", res.code, res.stdout)
	}
	if lines := errorLines(res.stdout); len(lines) != 1 || !strings.Contains(lines[0], "timed out after 1ns (input timeout)") {
		t.Errorf("error lines = %q", lines)
	}
	if tags := reg.Tags(t, "o/app"); len(tags) != 1 {
		t.Errorf("tags = %v, want only tmp", tags)
	}
}
