package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/cleanup"
	"github.com/oci-assemble/oci-assemble/internal/oci/publish"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"
)

// TestSummaryCountsReferrers: the step summary counts the referrers that
// travelled and names those a target refused.
func TestSummaryCountsReferrers(t *testing.T) {
	t.Parallel()
	md := metadata{Digest: "sha256:aa", Pushed: true,
		Manifests: []assembly.Manifest{
			{Platform: "linux/amd64", Referrers: []source.Referrer{{Digest: "sha256:s1"}, {Digest: "sha256:s2"}}},
			{Platform: "linux/arm64", Referrers: []source.Referrer{{Digest: "sha256:s3"}}},
		},
		Targets: []publish.Target{{Ref: "reg/app", Tags: []string{"1"}, SkippedReferrers: []string{"sha256:s1: the registry refused it (405)"}}},
	}
	got := summary(report{md: md}, func(s string) string { return s })
	for _, want := range []string{"3 signatures, SBOMs and attestations", "`reg/app` was published without 1 referrer(s): sha256\\:s1"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

// TestSummaryNamesCosignTags: the diagram names a cosign tag by what it
// holds, not by its config's media type, and an OCI 1.1 referrer by its
// artifactType.
func TestSummaryNamesCosignTags(t *testing.T) {
	t.Parallel()
	sig, sbom := "sha256:"+strings.Repeat("1", 64), "sha256:"+strings.Repeat("2", 64)
	md := metadata{Digest: "sha256:aa", Pushed: true,
		Manifests: []assembly.Manifest{{Platform: "linux/amd64", Digest: "sha256:bb", Referrers: []source.Referrer{
			{Digest: sig, Subject: "sha256:bb", Tag: "sha256-bb.sig", Kind: "cosign signature", MediaType: "application/vnd.oci.image.manifest.v1+json"},
			{Digest: sbom, Subject: "sha256:bb", ArtifactType: "application/spdx+json", MediaType: "application/vnd.oci.image.manifest.v1+json"},
		}}},
	}
	got := mermaidIndex(md, func(s string) string { return s })
	for _, want := range []string{"cosign signature · " + shortDigest(sig), "application/spdx+json · " + shortDigest(sbom)} {
		if !strings.Contains(got, mermaidLabel(want)) {
			t.Errorf("diagram lacks %q:\n%s", want, got)
		}
	}
}

// TestSummaryShows: what a user looks for after a run is in the summary:
// image sizes, sources, the pull command, bytes per target with totals,
// the elapsed time, and a kept tag's reason in a column of its own.
func TestSummaryShows(t *testing.T) {
	t.Parallel()
	md := metadata{Digest: "sha256:aa", MediaType: "application/vnd.oci.image.index.v1+json", Size: 500, Pushed: true,
		Image: "reg.example/app@sha256:aa",
		Manifests: []assembly.Manifest{
			{Platform: "linux/amd64", Digest: "sha256:bb", Size: 400, ImageSize: 3 << 20, Source: "reg.example/app:tmp-amd64"},
		},
		Targets: []publish.Target{
			{Ref: "reg.example/app", Tags: []string{"1"}, BytesUploaded: 3 << 20},
			{Ref: "reg.example/mirror", Tags: []string{"1"}, BytesMounted: 3 << 20},
		},
		DeletedTags: []string{"reg.example/app:tmp-amd64"},
	}
	kept := []cleanup.Kept{{Ref: "reg.example/app:tmp-arm64", Reason: "tag not found, nothing to delete", Fix: "check the delete-tags entry"}}
	got := summary(report{md: md, kept: kept, elapsed: 2345 * time.Millisecond}, func(s string) string { return s })
	for _, want := range []string{
		"published in 2.3s.",
		"```sh\ndocker pull reg.example/app@sha256:aa\n```",
		"| Platform | Image size | Manifest | Source |",
		"| linux/amd64 | 3.0 MiB | `sha256:bb` | `reg.example/app:tmp-amd64` |",
		"| `reg.example/app` | `1` | 3.0 MiB | 0 B | 0 B |",
		"| `reg.example/mirror` | `1` | 0 B | 3.0 MiB | 0 B |",
		"| **Total** | | 3.0 MiB | 3.0 MiB | 0 B |",
		"| `reg.example/app:tmp-amd64` | deleted | |",
		"| `reg.example/app:tmp-arm64` | kept | tag not found, nothing to delete; check the delete-tags entry |",
		"```mermaid\nflowchart LR\n  n0[\"index sha256:aa\"]\n  n0 --> n1[\"linux/amd64 · sha256:bb · 3.0 MiB\"]\n```",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

// TestSummaryDryRun: a dry run says so, lists where it would publish and
// how to pull it once published.
func TestSummaryDryRun(t *testing.T) {
	t.Parallel()
	md := metadata{Digest: "sha256:aa", Image: "reg.example/app@sha256:aa",
		Targets: []publish.Target{{Ref: "reg.example/app", Tags: []string{"1"}}, {Ref: "oci:out", Tags: []string{}}}}
	got := summary(report{md: md}, func(s string) string { return s })
	for _, want := range []string{
		"Dry run: nothing was pushed",
		"Once published, pull it with:",
		"| Would publish to | Tags |\n| --- | --- |\n| `reg.example/app` | `1` |\n| `oci:out` | (by digest) |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

// TestMermaidLabel: text from a source cannot leave its label, its node
// or the code block, nor carry a directive, markdown or HTML.
func TestMermaidLabel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"plain", "linux/arm64 · sha256:ab", "linux/arm64 · sha256:ab"},
		{"quote and bracket", `a"]; click n0 "https://evil"`, "a#34;#93;#59; click n0 #34;https://evil#34;"},
		{"newline", "a\nb", "a#92;nb"},
		{"hash", "#quot;", "#35;quot#59;"},
		{"html", "<img src=x>", "#60;img src#61;x#62;"},
		{"fence and directive", "```%%{init}%%", "#96;#96;#96;#37;#37;#123;init#125;#37;#37;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := mermaidLabel(tt.in); got != tt.want {
				t.Errorf("mermaidLabel(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestMermaidBounded: an index with hundreds of referrers draws at most
// maxDiagramNodes nodes and counts the rest.
func TestMermaidBounded(t *testing.T) {
	t.Parallel()
	m := assembly.Manifest{Platform: "linux/amd64", Digest: "sha256:bb"}
	for i := range 500 {
		m.Referrers = append(m.Referrers, source.Referrer{Digest: fmt.Sprintf("sha256:%064d", i), Subject: "sha256:bb", ArtifactType: "application/spdx+json"})
	}
	got := mermaidIndex(metadata{Digest: "sha256:aa", Manifests: []assembly.Manifest{m}}, func(s string) string { return s })
	if n := strings.Count(got, "[\""); n != maxDiagramNodes+1 {
		t.Errorf("%d nodes, want %d and one counting the rest:\n%s", n, maxDiagramNodes+1, got)
	}
	if want := fmt.Sprintf("%d more not drawn", 500+2-maxDiagramNodes); !strings.Contains(got, want) {
		t.Errorf("diagram lacks %q", want)
	}
}
