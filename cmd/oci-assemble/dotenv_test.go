package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
)

func TestWriteDotenv(t *testing.T) {
	t.Parallel()
	md := metadata{
		Digest: "sha256:aaaa",
		Image:  "reg.example/o/app@sha256:aaaa",
		Manifests: []assembly.Manifest{
			{Platform: "linux/amd64", Digest: "sha256:bbbb"},
			{Platform: "linux/arm64/v8", Digest: "sha256:cccc"},
			{Platform: "windows/amd64:10.0.17763.1234", Digest: "sha256:dddd"},
			{Platform: "linux/riscv64", Digest: "sha256:eeee\nX=1"},
		},
	}
	path := filepath.Join(t.TempDir(), "oci-assemble.env")
	if err := writeDotenv(path, md, func(s string) string { return s }); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "OCI_ASSEMBLE_DIGEST=sha256:aaaa\n" +
		"OCI_ASSEMBLE_IMAGE=reg.example/o/app@sha256:aaaa\n" +
		"OCI_ASSEMBLE_DIGEST_LINUX_AMD64=sha256:bbbb\n" +
		"OCI_ASSEMBLE_DIGEST_LINUX_ARM64_V8=sha256:cccc\n" +
		"OCI_ASSEMBLE_DIGEST_WINDOWS_AMD64_10_0_17763_1234=sha256:dddd\n"
	if string(got) != want {
		t.Errorf("writeDotenv() wrote\n%s\nwant\n%s", got, want)
	}
}

// TestWriteDotenvHostile: a value that could start a variable, drive a
// terminal or carry a credential is left out of the report.
func TestWriteDotenvHostile(t *testing.T) {
	t.Parallel()
	r := newRedactor()
	r.add("secret-value")
	md := metadata{
		Digest: "sha256:aaaa",
		Image:  "reg.example/o/app@sha256:aaaa\rOCI_ASSEMBLE_DIGEST=sha256:evil",
		Manifests: []assembly.Manifest{
			{Platform: "linux/amd64", Digest: "sha256:bbbb\x1b[2K"},
			{Platform: "linux/arm64", Digest: "sha256:cccc\u2028OCI_ASSEMBLE_DIGEST=sha256:evil"},
			{Platform: "linux/s390x", Digest: "sha256:secret-value"},
			{Platform: "linux/ppc64le", Digest: "sha256:dddd"},
		},
	}
	path := filepath.Join(t.TempDir(), "oci-assemble.env")
	if err := writeDotenv(path, md, r.redact); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "OCI_ASSEMBLE_DIGEST=sha256:aaaa\nOCI_ASSEMBLE_DIGEST_LINUX_PPC64LE=sha256:dddd\n"; string(got) != want {
		t.Errorf("writeDotenv() wrote %q, want %q", got, want)
	}
}
