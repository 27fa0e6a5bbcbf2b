package oci

import (
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

const (
	// cosignAttLayer and cosignSigAnnotation are from cosign's
	// ATTESTATION_SPEC.md and SIGNATURE_SPEC.md.
	cosignAttLayer      = "application/vnd.dsse.envelope.v1+json"
	cosignSigAnnotation = "dev.cosignproject.cosign/signature"
	spdxJSON            = "text/spdx+json"
)

// cosignImage is an image as cosign writes one to a .sig, .att or .sbom
// tag: an OCI manifest with an image config, one layer of layerType per
// payload, each with cosign's signature annotation. The same payload
// makes the same layer, as the same signature does.
func cosignImage(t *testing.T, layerType string, payloads ...string) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, p := range payloads {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:       static.NewLayer([]byte(p), types.MediaType(layerType)),
			Annotations: map[string]string{cosignSigAnnotation: "MEUCIQ-" + p},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// writeTag writes img to r's repo:tag through the registry API.
func writeTag(t *testing.T, r *registrytest.Registry, repo, tag string, img v1.Image) v1.Hash {
	t.Helper()
	if err := remote.Write(mustRef(t, r.Host+"/"+repo+":"+tag), img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestCosignTagsNamedByKind: cosign's .sig, .att and .sbom tags are named
// for what they hold in the metadata, not by their config's media type;
// an OCI 1.1 referrer keeps its artifactType.
func TestCosignTagsNamedByKind(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	dst := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	refs := pushPlatforms(t, src.Host, "amd64")
	d := headDigest(t, src.Host+"/src:amd64")
	fallback := "sha256-" + d.Hex
	writeTag(t, src, "src", fallback+".sig", cosignImage(t, cosignSigLayer, "sig"))
	writeTag(t, src, "src", fallback+".att", cosignImage(t, cosignAttLayer, "att"))
	writeTag(t, src, "src", fallback+".sbom", cosignImage(t, spdxJSON, "sbom"))
	sbom := attach(t, src.Host+"/src@"+d.String(), sbomType)

	a := insecureAssembler(t, src, dst)
	tgts := targets(t, dst.Host+"/app:1")
	as := publishReferrers(t, a, refs, tgts)
	raw, err := json.Marshal(as.Manifests[0].Referrers)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]string
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		fallback + ".sig":  {"kind": "cosign signature"},
		fallback + ".att":  {"kind": "cosign attestation"},
		fallback + ".sbom": {"kind": "cosign SBOM: text/spdx+json"},
		sbom:               {"artifactType": sbomType},
	}
	if len(got) != len(want) {
		t.Fatalf("referrers = %s, want %d", raw, len(want))
	}
	for _, r := range got {
		key := r["tag"]
		if key == "" {
			key = r["digest"]
		}
		w, ok := want[key]
		if !ok {
			t.Errorf("unexpected referrer %v", r)
			continue
		}
		if r["kind"] != w["kind"] || r["artifactType"] != w["artifactType"] {
			t.Errorf("referrer %s: kind %q, artifactType %q; want %q, %q", key, r["kind"], r["artifactType"], w["kind"], w["artifactType"])
		}
	}
	if strings.Contains(string(raw), string(types.OCIConfigJSON)) {
		t.Errorf("referrers name a cosign tag by its config's media type: %s", raw)
	}
}
