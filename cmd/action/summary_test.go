package main

import (
	"strings"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/oci"
)

// TestSummaryCountsReferrers: the step summary counts the referrers that
// travelled and names those a target refused.
func TestSummaryCountsReferrers(t *testing.T) {
	t.Parallel()
	md := metadata{Digest: "sha256:aa", Pushed: true,
		Manifests: []oci.Manifest{
			{Platform: "linux/amd64", Referrers: []oci.Referrer{{Digest: "sha256:s1"}, {Digest: "sha256:s2"}}},
			{Platform: "linux/arm64", Referrers: []oci.Referrer{{Digest: "sha256:s3"}}},
		},
		Targets: []oci.Target{{Ref: "reg/app", Tags: []string{"1"}, SkippedReferrers: []string{"sha256:s1: the registry refused it (405)"}}},
	}
	got := summary(report{md: md}, func(s string) string { return s })
	for _, want := range []string{"3 signatures, SBOMs and attestations", "`reg/app` was published without 1 referrer(s): sha256\\:s1"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}
