package oci

import (
	"encoding/json"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// layoutReferrers finds the referrers of d in an OCI layout, recursively,
// parent first: an OCI layout has no referrers endpoint, so a referrer is
// an image manifest index.json names whose subject is d (as `oras attach
// --oci-layout` and writeReferrers leave them), and a cosign-style
// referrer is the one tagged sha256-<hex>.sig, .att or .sbom.
func layoutReferrers(path string, d v1.Hash, depth int, seen map[v1.Hash]bool) ([]*foundReferrer, error) {
	if depth >= maxReferrerDepth {
		return nil, nil
	}
	root, err := layout.ImageIndexFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("reading layout %s: %w", path, err)
	}
	im, err := root.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading layout %s: %w", path, err)
	}
	var out []*foundReferrer
	for _, desc := range im.Manifests {
		if !desc.MediaType.IsImage() || seen[desc.Digest] {
			continue
		}
		tag := desc.Annotations[specs.AnnotationRefName]
		cosign := slices.ContainsFunc(cosignSuffixes, func(sfx string) bool { return tag == referrersTagPrefix+d.Hex+sfx })
		img, err := root.Image(desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading layout %s: %w", path, err)
		}
		raw, err := img.RawManifest()
		if err != nil {
			return nil, fmt.Errorf("reading layout %s: %w", path, err)
		}
		if !cosign && subjectOf(raw) != d {
			continue
		}
		seen[desc.Digest] = true
		rd, err := referrerDescriptor(raw, desc.MediaType)
		if err != nil {
			return nil, fmt.Errorf("referrer %s in layout %s: %w", desc.Digest, path, err)
		}
		r := &foundReferrer{
			Referrer: Referrer{Digest: rd.Digest.String(), ArtifactType: rd.ArtifactType, MediaType: rd.MediaType, Subject: d.String()},
			raw:      raw, img: img, desc: rd,
		}
		if cosign {
			r.Tag = tag
		}
		out = append(out, r)
	}
	for _, r := range out {
		if r.children, err = layoutReferrers(path, r.desc.Digest, depth+1, seen); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// subjectOf is the digest a manifest's subject names, or the zero hash.
func subjectOf(raw []byte) v1.Hash {
	var m struct {
		Subject *v1.Descriptor `json:"subject"`
	}
	if json.Unmarshal(raw, &m) != nil || m.Subject == nil {
		return v1.Hash{}
	}
	return m.Subject.Digest
}
