package main

import (
	"strings"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestMissingSourceSameCode: an images input naming something that is not
// there exits 1, as bad input, whether it names a registry tag or a
// layout tag: the same mistake has one exit code and one kind of line.
func TestMissingSourceSameCode(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	sources := layoutSources(t) // oci:DIR:linux-amd64,oci:DIR:linux-arm64
	layoutDir := strings.TrimPrefix(strings.Split(sources, ",")[0], "oci:")
	layoutDir = layoutDir[:strings.LastIndex(layoutDir, ":")]
	tests := []struct {
		name   string
		images string
		want   []string
	}{
		{name: "registry tag", images: reg.Host + "/o/app:missing",
			want: []string{"error: input images: " + reg.Host + "/o/app:missing does not exist in its registry"}},
		{name: "layout tag", images: "oci:" + layoutDir + ":missing",
			want: []string{"error: input images: source image oci:" + layoutDir + `:missing: no image tagged "missing" in the layout; it holds tag "linux-amd64", tag "linux-arm64"`}},
		{name: "layout digest", images: "oci:" + layoutDir + "@sha256:" + strings.Repeat("0", 64),
			want: []string{"error: input images: source image oci:" + layoutDir + "@sha256:" + strings.Repeat("0", 64) + ": no image sha256:"}},
		{name: "layout of two images, none named", images: "oci:" + layoutDir,
			want: []string{"error: input images: source image oci:" + layoutDir + `: the layout holds 2 images; name one as oci:PATH:TAG or oci:PATH@DIGEST: tag "linux-amd64", tag "linux-arm64"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runAction(t, map[string]string{}, "--images", tt.images, "--tags", reg.Host+"/o/out:v1", "--insecure-registries", reg.Host)
			if r.code != exitInput {
				t.Errorf("exit code = %d, want %d (bad input)", r.code, exitInput)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if len(lines) != 1 {
				t.Fatalf("stderr = %q, want one line", r.stderr)
			}
			for _, w := range tt.want {
				if !strings.HasPrefix(lines[0], w) {
					t.Errorf("stderr = %q, want it to start %q", lines[0], w)
				}
			}
			if tags := reg.Tags(t, "o/out"); len(tags) != 0 {
				t.Errorf("o/out tags = %q after a failed run, want none", tags)
			}
		})
	}
}

// TestVersionAndHelp: --version prints the name users call the binary by
// and the version it was built with, and exits 0; --help names the binary
// the same way and lists --version.
func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	r := runAction(t, map[string]string{}, "--version")
	if r.code != exitOK {
		t.Errorf("--version exit code = %d, want %d", r.code, exitOK)
	}
	if got, want := r.stdout, "oci-assemble "+version+"\n"; got != want {
		t.Errorf("--version stdout = %q, want %q", got, want)
	}
	if r.stderr != "" {
		t.Errorf("--version stderr = %q, want nothing", r.stderr)
	}
	h := runAction(t, map[string]string{}, "--help")
	if h.code != exitOK {
		t.Errorf("--help exit code = %d, want %d", h.code, exitOK)
	}
	for _, want := range []string{"Usage: oci-assemble [--INPUT VALUE ...]", "-version"} {
		if !strings.Contains(h.stdout, want) {
			t.Errorf("--help stdout lacks %q:\n%s", want, h.stdout)
		}
	}
}

// TestRegistryAuthYAMLErrorLine: a registry-auth input that is not YAML
// gives one line with the line and column of the problem, exit 1, and
// the password nowhere.
func TestRegistryAuthYAMLErrorLine(t *testing.T) {
	t.Parallel()
	const secret = "pw-7Hq2-not-for-logs"
	r := runAction(t, map[string]string{}, "--images", "reg.example/o/app:1", "--tags", "reg.example/o/app:2",
		"--registry-auth", "- registry: reg.example\n  username: u\n password: "+secret+"\n")
	if r.code != exitInput {
		t.Errorf("exit code = %d, want %d", r.code, exitInput)
	}
	if got, want := r.stderr, "error: input registry-auth: not valid YAML: line 3, column 2: did not find expected '-' indicator\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
	if strings.Contains(r.stdout+r.stderr, secret) {
		t.Error("the password was printed")
	}
}
