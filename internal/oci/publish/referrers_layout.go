package publish

import (
	"context"
	"fmt"
	"slices"

	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/layout"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// writeReferrers stores the assembly's referrers in the layout: their
// blobs and manifests, and an entry in index.json for each, as `oras
// attach --oci-layout` leaves them: an OCI layout has no referrers
// endpoint, and a reader (oras-go's oci.Store) finds a manifest's
// referrers among the manifests index.json names. A cosign-style referrer
// is named by its tag (org.opencontainers.image.ref.name), as skopeo and
// cosign read tags from a layout. The platform manifests they describe
// are listed too, untagged: oras resolves a digest of a layout only among
// the manifests index.json names. An entry already there is kept.
func (d *layoutDest) writeReferrers(ctx context.Context, w *layout.Writer, as *assembly.Assembly) error {
	refs := as.FlatReferrers()
	if len(refs) == 0 {
		return nil
	}
	im, err := w.IndexJSON()
	if err != nil {
		return fmt.Errorf("reading layout %s: %w", d.path, err)
	}
	var descs []v1.Descriptor
	top, err := as.Index.IndexManifest()
	if err != nil {
		return err
	}
	for _, m := range top.Manifests {
		if slices.ContainsFunc(as.Referrers, func(r *source.FoundReferrer) bool { return r.Subject == m.Digest.String() }) {
			descs = append(descs, v1.Descriptor{MediaType: m.MediaType, Size: m.Size, Digest: m.Digest, Platform: m.Platform})
		}
	}
	for _, r := range refs {
		desc := v1.Descriptor{MediaType: r.Desc.MediaType, Size: r.Desc.Size, Digest: r.Desc.Digest, ArtifactType: r.Desc.ArtifactType}
		if r.Tag != "" {
			desc.Annotations = map[string]string{specs.AnnotationRefName: r.Tag}
		}
		if err := w.WriteImage(ctx, r.Img); err != nil {
			return fmt.Errorf("writing referrer %s to layout %s: %w", r.Digest, d.path, err)
		}
		descs = append(descs, desc)
	}
	var add []v1.Descriptor
	for _, desc := range descs {
		same := func(x v1.Descriptor) bool {
			return x.Digest == desc.Digest && x.Annotations[specs.AnnotationRefName] == desc.Annotations[specs.AnnotationRefName]
		}
		if slices.ContainsFunc(im.Manifests, same) || slices.ContainsFunc(add, same) {
			continue
		}
		add = append(add, desc)
	}
	if len(add) == 0 {
		return nil
	}
	if err := w.UpdateIndexJSON(func(v1.Descriptor) bool { return true }, add...); err != nil {
		return fmt.Errorf("writing referrers to layout %s: %w", d.path, err)
	}
	return nil
}
