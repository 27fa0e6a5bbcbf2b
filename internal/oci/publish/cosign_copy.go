package publish

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/oci-assemble/oci-assemble/internal/oci/push"
)

// joinCosignTag is the copy of a cosign tag whose target tag already holds
// another manifest, got: cosign adds a signature or attestation to a tag
// by appending a layer to its image, so a target tag that holds every
// layer of the source's (the source's signature, and one made on the
// target) carries it as it is. One that lacks some gets them appended
// after its own, as cosign would, so no signature of either side is lost.
// An SBOM tag (one SBOM per image, for cosign) or a tag that holds
// something else is kept, and r is reported skipped.
func (d *registryDest) joinCosignTag(ctx context.Context, w *push.Writer, t *repoTarget, r *source.FoundReferrer, tag name.Tag) error {
	rd, err := d.c.Puller().Get(ctx, tag)
	if err != nil {
		if plan.Answered(err) {
			t.skip(r, fmt.Sprintf("the target's tag %s could not be read (%s), so it is kept", r.Tag, plan.QuoteText(err.Error())))
			return nil
		}
		return &plan.RefError{Op: "reading", Ref: tag, Err: err}
	}
	if !rd.MediaType.IsImage() || rd.MediaType.IsSchema1() {
		t.skip(r, fmt.Sprintf("the target's tag %s holds something other than an image (%s), which is kept", r.Tag, plan.QuoteText(string(rd.MediaType))))
		return nil
	}
	img, err := rd.Image()
	if err == nil {
		img, err = source.NewCachedConfigImage(img, t.repo)
	}
	var missing []v1.Descriptor
	if err == nil {
		missing, err = missingLayers(img, r.Raw)
	}
	if err != nil {
		t.skip(r, fmt.Sprintf("the target's tag %s could not be read as a cosign image (%s), so it is kept", r.Tag, plan.QuoteText(err.Error())))
		return nil
	}
	if len(missing) == 0 {
		t.copied.Add(1)
		return nil
	}
	if !source.CosignTags[source.CosignSuffix(r.Tag)].Appends {
		t.skip(r, fmt.Sprintf("the target's tag %s holds another SBOM (%s), which is kept; cosign keeps one SBOM per image", r.Tag, rd.Digest))
		return nil
	}
	return d.appendCosignLayers(ctx, w, t, r, tag, img, missing)
}

// missingLayers are the layers of the source's cosign manifest raw that
// the target's image img lacks, by digest, in the source's order.
func missingLayers(img v1.Image, raw []byte) ([]v1.Descriptor, error) {
	have, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	src, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	var missing []v1.Descriptor
	for _, l := range src.Layers {
		if !slices.ContainsFunc(have.Layers, func(h v1.Descriptor) bool { return h.Digest == l.Digest }) {
			missing = append(missing, l)
		}
	}
	return missing, nil
}

// appendCosignLayers writes to tag the target's image img with the
// source's layers missing appended, each with its media type and
// annotations (the signature, certificate, bundle), as cosign's own
// append does. The layers' blobs are on the target already (copyReferrers
// wrote them); the new config is written here.
func (d *registryDest) appendCosignLayers(ctx context.Context, w *push.Writer, t *repoTarget, r *source.FoundReferrer, tag name.Tag, img v1.Image, missing []v1.Descriptor) error {
	adds := make([]mutate.Addendum, 0, len(missing))
	for _, l := range missing {
		layer, err := r.Img.LayerByDigest(l.Digest)
		if err != nil {
			return fmt.Errorf("referrer %s: %w", r.Tag, err)
		}
		adds = append(adds, mutate.Addendum{Layer: layer, MediaType: l.MediaType, Annotations: l.Annotations})
	}
	joined, err := mutate.Append(img, adds...)
	var cl v1.Layer
	if err == nil {
		cl, err = partial.ConfigLayer(joined) // reads the layers' diff IDs
	}
	if err != nil {
		t.skip(r, fmt.Sprintf("its layers could not be added to the target's tag %s (%s), which is kept", r.Tag, plan.QuoteText(err.Error())))
		return nil
	}
	if err := w.WriteBlob(ctx, cl); err != nil {
		return &plan.RefError{Op: "uploading the config of", Ref: tag, Err: err}
	}
	return t.tagged(r, tag, w.Put(ctx, tag, joined))
}
