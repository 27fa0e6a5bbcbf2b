package oci

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/oci/plan"

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

// layerPayloads reads repo:tag of r back and returns each layer's
// content and its signature annotation, in order.
func layerPayloads(t *testing.T, r *registrytest.Registry, repo, tag string) (payloads, sigs []string) {
	t.Helper()
	m := r.GetManifest(t, repo, tag)
	var man v1.Manifest
	if err := json.Unmarshal(m.Body, &man); err != nil {
		t.Fatal(err)
	}
	for _, l := range man.Layers {
		payloads = append(payloads, string(r.GetBlob(t, repo, l.Digest.String())))
		sigs = append(sigs, l.Annotations[cosignSigAnnotation])
	}
	return payloads, sigs
}

// checkDiffIDs checks that the config of the manifest m of r's repo
// names one diff ID per layer, each its uncompressed layer's digest: what
// image-spec asks of rootfs.diff_ids (validate.Image looks only at
// layers of the image layer media types).
func checkDiffIDs(t *testing.T, r *registrytest.Registry, repo string, m registrytest.Manifest) {
	t.Helper()
	var man v1.Manifest
	if err := json.Unmarshal(m.Body, &man); err != nil {
		t.Fatal(err)
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(r.GetBlob(t, repo, man.Config.Digest.String()), &cfg); err != nil {
		t.Fatal(err)
	}
	var got, want []v1.Hash
	for _, l := range man.Layers {
		want = append(want, l.Digest)
	}
	got = cfg.RootFS.DiffIDs
	if !slices.Equal(got, want) {
		t.Errorf("config diff_ids = %v, want the layers' %v", got, want)
	}
}

// TestCosignTagAlreadyOnTarget: a re-join whose target's cosign tag
// already holds something. A tag that holds every layer of the source's,
// and one more signed on the target, is carried as it is; one that lacks
// the source's signature gets it appended after its own, as cosign
// appends; an SBOM tag of another SBOM is kept and reported by its kind.
func TestCosignTagAlreadyOnTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		suffix string
		layer  string
		source []string // payloads of the source's tag
		target []string // of the target's tag before the join
		want   []string // of the target's tag after it
		kept   bool     // the target's tag is not written
		skip   string   // in SkippedReferrers, "" for none
	}{
		{name: "signed again on the target", suffix: ".sig", layer: cosignSigLayer,
			source: []string{"source"}, target: []string{"source", "target"}, want: []string{"source", "target"}, kept: true},
		{name: "attested again on the target", suffix: ".att", layer: cosignAttLayer,
			source: []string{"source"}, target: []string{"target", "source"}, want: []string{"target", "source"}, kept: true},
		{name: "signed only on the target", suffix: ".sig", layer: cosignSigLayer,
			source: []string{"source", "source2"}, target: []string{"target", "source2"}, want: []string{"target", "source2", "source"}},
		{name: "another SBOM on the target", suffix: ".sbom", layer: spdxJSON,
			source: []string{"source"}, target: []string{"target"}, want: []string{"target"}, kept: true,
			skip: ".sbom (cosign SBOM: text/spdx+json): the target's tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
			dst := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
			refs := pushPlatforms(t, src.Host, "amd64")
			d := headDigest(t, src.Host+"/src:amd64")
			tag := "sha256-" + d.Hex + tt.suffix
			writeTag(t, src, "src", tag, cosignImage(t, tt.layer, tt.source...))
			before := writeTag(t, dst, "app", tag, cosignImage(t, tt.layer, tt.target...))

			skipped := joinTo(t, refs, src, dst)
			switch {
			case tt.skip == "" && len(skipped) > 0:
				t.Errorf("SkippedReferrers = %q, want none: the target's tag carries the source's", skipped)
			case tt.skip != "" && (len(skipped) != 1 || !strings.Contains(skipped[0], tt.skip)):
				t.Errorf("SkippedReferrers = %q, want one with %q", skipped, tt.skip)
			}
			m := dst.GetManifest(t, "app", tag)
			if got := m.Digest == before.String(); got != tt.kept {
				t.Errorf("target tag %s = %s (before %s): kept = %v, want %v", tag, m.Digest, before, got, tt.kept)
			}
			payloads, sigs := layerPayloads(t, dst, "app", tag)
			if !slices.Equal(payloads, tt.want) {
				t.Errorf("target tag's layers = %q, want %q", payloads, tt.want)
			}
			for i, p := range payloads {
				if sigs[i] != "MEUCIQ-"+p {
					t.Errorf("layer %q has signature %q, want %q", p, sigs[i], "MEUCIQ-"+p)
				}
			}
			checkDiffIDs(t, dst, "app", m)
			// The join again finds the target's tag as it left it.
			joinTo(t, refs, src, dst)
			if again := dst.GetManifest(t, "app", tag); again.Digest != m.Digest {
				t.Errorf("joined again, the target tag %s = %s, want %s as the first join left it", tag, again.Digest, m.Digest)
			}
		})
	}
}

// joinTo joins refs from src to dst's app:1 with their referrers, and
// returns what the target was published without.
func joinTo(t *testing.T, refs []plan.Ref, src, dst *registrytest.Registry) []string {
	t.Helper()
	a := insecureAssembler(t, src, dst)
	tgts := targets(t, dst.Host+"/app:1")
	as, err := a.Assemble(context.Background(), Plan{Sources: refs, Targets: tgts, Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Publish(context.Background(), as)
	if err != nil {
		t.Fatal(err)
	}
	return res.Targets[0].SkippedReferrers
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
