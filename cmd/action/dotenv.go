package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/oci-assemble/oci-assemble/internal/platform"
)

// writeDotenv writes the outputs as a GitLab dotenv report: plain
// KEY=value lines, no quotes, no blank or multi-line values, which is all
// GitLab accepts. Per-platform digests have their own variables so that
// per-arch jobs of a parallel matrix do not overwrite each other's.
func writeDotenv(path string, md metadata) error {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" && !strings.ContainsAny(v, "\r\n") {
			fmt.Fprintf(&b, "%s=%s\n", k, v)
		}
	}
	line("OCI_ASSEMBLE_DIGEST", md.Digest)
	line("OCI_ASSEMBLE_IMAGE", md.Image)
	for _, m := range md.Manifests {
		line("OCI_ASSEMBLE_DIGEST_"+platform.EnvName(m.Platform), m.Digest)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the dotenv report: %w", err)
	}
	return nil
}
