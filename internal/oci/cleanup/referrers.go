package cleanup

import "strings"

// isReferrerTag reports whether tag is a referrers tag schema fallback
// tag (sha256-<64 hex>, distribution-spec "Referrers Tag Schema",
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#referrers-tag-schema)
// or one of cosign's signature, attestation and SBOM tags
// (sha256-<hex>.sig, .att, .sbom). Such a tag lists or holds the
// signatures, SBOMs and attestations of an image: cleanup never deletes
// it, whatever delete-tags says.
func isReferrerTag(tag string) bool {
	rest, ok := strings.CutPrefix(tag, "sha256-")
	if !ok || len(rest) < 64 {
		return false
	}
	for _, c := range rest[:64] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	switch rest[64:] {
	case "", ".sig", ".att", ".sbom":
		return true
	}
	return false
}
