package oci

import (
	"strings"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestCosignKind: a cosign tag is named by its suffix, with the media
// types of layers that are not its kind's own; a registry's text that is
// no media type never reaches the name.
func TestCosignKind(t *testing.T) {
	t.Parallel()
	layers := func(mts ...string) *v1.Manifest {
		m := &v1.Manifest{}
		for _, mt := range mts {
			m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.MediaType(mt)})
		}
		return m
	}
	tests := []struct {
		name string
		tag  string
		m    *v1.Manifest
		want string
	}{
		{name: "signature", tag: "sha256-ab.sig", m: layers(cosignSigLayer, cosignSigLayer), want: "cosign signature"},
		{name: "attestation", tag: "sha256-ab.att", m: layers(cosignAttLayer), want: "cosign attestation"},
		{name: "SPDX SBOM", tag: "sha256-ab.sbom", m: layers(spdxJSON), want: "cosign SBOM: text/spdx+json"},
		{name: "CycloneDX SBOM", tag: "sha256-ab.sbom", m: layers("application/vnd.cyclonedx+json"), want: "cosign SBOM: application/vnd.cyclonedx+json"},
		{name: "no layers", tag: "sha256-ab.sig", m: layers(), want: "cosign signature"},
		{name: "other layers", tag: "sha256-ab.sig", m: layers(cosignSigLayer, "application/x-other"), want: "cosign signature: application/x-other"},
		{name: "hostile", tag: "sha256-ab.sbom", m: layers("text/spdx\n::error::owned", "a/b`<script>", "x/"+strings.Repeat("y", 300)), want: "cosign SBOM: unknown"},
		{name: "bounded", tag: "sha256-ab.sbom", m: layers("a/1", "a/2", "a/3", "a/4", "a/5", "a/2"), want: "cosign SBOM: a/1, a/2, a/3, 2 more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := source.CosignKind(tt.tag, tt.m); got != tt.want {
				t.Errorf("cosignKind(%q) = %q, want %q", tt.tag, got, tt.want)
			}
		})
	}
}

// TestReferrerLabel: warnings name a cosign tag by its kind, and an OCI
// 1.1 referrer by its artifactType.
func TestReferrerLabel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    source.Referrer
		want string
	}{
		{name: "cosign tag", r: source.Referrer{Digest: "sha256:cc", Tag: "sha256-ab.sig", Kind: "cosign signature"}, want: "sha256-ab.sig (cosign signature)"},
		{name: "OCI 1.1", r: source.Referrer{Digest: "sha256:cc", ArtifactType: sbomType}, want: "sha256:cc (" + sbomType + ")"},
		{name: "bare", r: source.Referrer{Digest: "sha256:cc"}, want: "sha256:cc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.r.Label(); got != tt.want {
				t.Errorf("label() = %q, want %q", got, tt.want)
			}
		})
	}
}
