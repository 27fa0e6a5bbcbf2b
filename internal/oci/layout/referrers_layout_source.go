package layout

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// layoutManifest is an image manifest index.json names, read once for
// every subject looked for.
type layoutManifest struct {
	desc    v1.Descriptor
	raw     []byte
	img     v1.Image
	subject v1.Hash
}

// layoutReferrers finds the referrers of d in an OCI layout, recursively,
// parent first: an OCI layout has no referrers endpoint, so a referrer is
// an image manifest index.json names whose subject is d (as `oras attach
// --oci-layout` and writeReferrers leave them), and a cosign-style
// referrer is the one tagged sha256-<hex>.sig, .att or .sbom. The layout
// is read as a source is (Dir): bounded and verified.
func layoutReferrers(ctx context.Context, path string, d v1.Hash) ([]*source.FoundReferrer, error) {
	l := Dir{Path: path}
	root, err := l.RootIndex()
	if err != nil {
		return nil, fmt.Errorf("reading layout %s: %w", path, err)
	}
	w := source.NewWalk(ctx, "layout "+path)
	if err := w.Index(0, len(root.Manifest.Manifests)); err != nil {
		return nil, err
	}
	var ms []*layoutManifest
	for _, desc := range root.Manifest.Manifests {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading layout %s: %w", path, err)
		}
		if !desc.MediaType.IsImage() || !w.Enter(desc.Digest) {
			continue
		}
		img, err := l.image(desc)
		if err != nil {
			return nil, fmt.Errorf("reading layout %s: %w", path, err)
		}
		raw, err := img.RawManifest()
		if err != nil {
			return nil, fmt.Errorf("reading layout %s: %w", path, err)
		}
		ms = append(ms, &layoutManifest{desc: desc, raw: raw, img: img, subject: SubjectOf(raw)})
	}
	return referrersAmong(ctx, path, ms, d, 0, map[v1.Hash]bool{d: true})
}

// referrersAmong finds the referrers of d among ms, recursively.
// seen stops a cycle and a referrer found twice.
func referrersAmong(ctx context.Context, path string, ms []*layoutManifest, d v1.Hash, depth int, seen map[v1.Hash]bool) ([]*source.FoundReferrer, error) {
	if depth >= source.MaxReferrerDepth {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading layout %s: %w", path, err)
	}
	var out []*source.FoundReferrer
	for _, m := range ms {
		if seen[m.desc.Digest] {
			continue
		}
		tag := m.desc.Annotations[specs.AnnotationRefName]
		cosign := slices.ContainsFunc(source.CosignSuffixes, func(sfx string) bool { return tag == source.ReferrersTagPrefix+d.Hex+sfx })
		if !cosign && m.subject != d {
			continue
		}
		seen[m.desc.Digest] = true
		rd, err := source.ReferrerDescriptor(m.raw, m.desc.MediaType)
		if err != nil {
			return nil, fmt.Errorf("referrer %s in layout %s: %w", m.desc.Digest, path, err)
		}
		if !cosign {
			tag = ""
		}
		out = append(out, &source.FoundReferrer{Referrer: source.NewReferrer(rd, m.raw, d, tag), Raw: m.raw, Img: m.img, Desc: rd})
	}
	for _, r := range out {
		var err error
		if r.Children, err = referrersAmong(ctx, path, ms, r.Desc.Digest, depth+1, seen); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SubjectOf is the digest a manifest's subject names, or the zero hash.
func SubjectOf(raw []byte) v1.Hash {
	var m struct {
		Subject *v1.Descriptor `json:"subject"`
	}
	if json.Unmarshal(raw, &m) != nil || m.Subject == nil {
		return v1.Hash{}
	}
	return m.Subject.Digest
}
