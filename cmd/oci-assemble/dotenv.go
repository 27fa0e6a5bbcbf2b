package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/oci-assemble/oci-assemble/internal/platform"
)

// dotenvKey is a variable name GitLab's dotenv report accepts.
// https://docs.gitlab.com/ci/yaml/artifacts_reports/#artifactsreportsdotenv
var dotenvKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// writeDotenv writes the outputs as a GitLab dotenv report: plain
// KEY=value lines, no quotes, no blank or multi-line values, which is all
// GitLab accepts. Per-platform digests have their own variables so that
// per-arch jobs of a parallel matrix do not overwrite each other's. A
// value that holds a line break or another control character, or that
// redact changed, is left out rather than written: in a KEY=value file a
// line break would start a variable of the value's choosing.
func writeDotenv(path string, md metadata, redact func(string) string) error {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" && dotenvKey.MatchString(k) && !needsEscape(v) && redact(v) == v {
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
