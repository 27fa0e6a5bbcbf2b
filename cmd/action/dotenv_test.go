package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/oci"
)

func TestWriteDotenv(t *testing.T) {
	t.Parallel()
	md := metadata{
		Digest: "sha256:aaaa",
		Image:  "reg.example/o/app@sha256:aaaa",
		Manifests: []oci.Manifest{
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
