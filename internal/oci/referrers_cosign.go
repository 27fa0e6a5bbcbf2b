package oci

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"

	"github.com/oci-assemble/oci-assemble/internal/oci/push"
)

// cosignTag is what one of cosign's tag suffixes holds
// (https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md,
// ATTESTATION_SPEC.md): the name people know it by, the media type of its
// layers, and whether cosign adds to the tag or replaces it.
type cosignTag struct {
	kind string
	// layer is the media type of every layer; "" when it varies (an
	// SBOM is SPDX or CycloneDX, named in the kind).
	layer string
	// appends: `cosign sign` and `cosign attest` append a layer to the
	// tag's image (cosign's mutate.AppendSignatures); `cosign attach
	// sbom` writes an image of one layer, and `cosign download sbom`
	// reads only such an image.
	appends bool
}

var cosignTags = map[string]cosignTag{
	".sig":  {kind: "cosign signature", layer: "application/vnd.dev.cosign.simplesigning.v1+json", appends: true},
	".att":  {kind: "cosign attestation", layer: "application/vnd.dsse.envelope.v1+json", appends: true},
	".sbom": {kind: "cosign SBOM"},
}

// cosignSuffix is the suffix of tag that names a cosign tag, or "".
func cosignSuffix(tag string) string {
	for sfx := range cosignTags {
		if strings.HasSuffix(tag, sfx) {
			return sfx
		}
	}
	return ""
}

// maxKindTypes bounds the media types a kind lists.
const maxKindTypes = 3

// cosignKind names the cosign tag tag that holds m: its kind, and the
// media types of its layers that are not that kind's own (an SBOM's
// format, or what a tag of that name holds instead). A media type that is
// not one by RFC 6838's characters is shown as "unknown": the kind is
// printed in logs and summaries.
func cosignKind(tag string, m *v1.Manifest) string {
	ct := cosignTags[cosignSuffix(tag)]
	var other []string
	for _, l := range m.Layers {
		mt := string(l.MediaType)
		if mt == ct.layer {
			continue
		}
		if !isMediaType(mt) {
			mt = "unknown"
		}
		if !slices.Contains(other, mt) {
			other = append(other, mt)
		}
	}
	if len(other) > maxKindTypes {
		other = append(other[:maxKindTypes], fmt.Sprintf("%d more", len(other)-maxKindTypes))
	}
	if len(other) == 0 {
		return ct.kind
	}
	return ct.kind + ": " + strings.Join(other, ", ")
}

// isMediaType reports whether s has the shape of a media type without
// parameters: type/subtype of RFC 6838's restricted-name characters.
func isMediaType(s string) bool {
	typ, sub, ok := strings.Cut(s, "/")
	return ok && len(s) <= 255 && restrictedName(typ) && restrictedName(sub)
}

func restrictedName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$&-^_.+", c)
		if !ok {
			return false
		}
	}
	return true
}

// newReferrer is the Referrer of the manifest raw, described by desc, that
// refers to subject; tag is set for a cosign tag, which is named by its
// kind: it has no artifactType, and its config's media type (an image
// config's) says nothing of what it holds.
func newReferrer(desc v1.Descriptor, raw []byte, subject v1.Hash, tag string) Referrer {
	r := Referrer{Digest: desc.Digest.String(), ArtifactType: desc.ArtifactType, MediaType: desc.MediaType,
		Subject: subject.String(), Tag: tag}
	if tag == "" {
		return r
	}
	r.ArtifactType = ""
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		m = &v1.Manifest{}
	}
	r.Kind = cosignKind(tag, m)
	return r
}

// label is how warnings name r: its tag or digest, and what it is.
func (r Referrer) label() string {
	s := r.Digest
	if r.Tag != "" {
		s = r.Tag
	}
	kind := r.Kind
	if kind == "" {
		kind = r.ArtifactType
	}
	if kind != "" {
		s += " (" + kind + ")"
	}
	return s
}

// joinCosignTag is the copy of a cosign tag whose target tag already holds
// another manifest, got: cosign adds a signature or attestation to a tag
// by appending a layer to its image, so a target tag that holds every
// layer of the source's (the source's signature, and one made on the
// target) carries it as it is. One that lacks some gets them appended
// after its own, as cosign would, so no signature of either side is lost.
// An SBOM tag (one SBOM per image, for cosign) or a tag that holds
// something else is kept, and r is reported skipped.
func (d *registryDest) joinCosignTag(ctx context.Context, w *push.Writer, t *repoTarget, r *foundReferrer, tag name.Tag) error {
	rd, err := d.c.Puller().Get(ctx, tag)
	if err != nil {
		if answered(err) {
			t.skip(r, fmt.Sprintf("the target's tag %s could not be read (%s), so it is kept", r.Tag, quoteText(err.Error())))
			return nil
		}
		return &RefError{Op: "reading", Ref: tag, Err: err}
	}
	if !rd.MediaType.IsImage() || rd.MediaType.IsSchema1() {
		t.skip(r, fmt.Sprintf("the target's tag %s holds something other than an image (%s), which is kept", r.Tag, quoteText(string(rd.MediaType))))
		return nil
	}
	img, err := rd.Image()
	if err == nil {
		img, err = newCachedConfigImage(img, t.repo)
	}
	var missing []v1.Descriptor
	if err == nil {
		missing, err = missingLayers(img, r.raw)
	}
	if err != nil {
		t.skip(r, fmt.Sprintf("the target's tag %s could not be read as a cosign image (%s), so it is kept", r.Tag, quoteText(err.Error())))
		return nil
	}
	if len(missing) == 0 {
		t.copied.Add(1)
		return nil
	}
	if !cosignTags[cosignSuffix(r.Tag)].appends {
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
func (d *registryDest) appendCosignLayers(ctx context.Context, w *push.Writer, t *repoTarget, r *foundReferrer, tag name.Tag, img v1.Image, missing []v1.Descriptor) error {
	adds := make([]mutate.Addendum, 0, len(missing))
	for _, l := range missing {
		layer, err := r.img.LayerByDigest(l.Digest)
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
		t.skip(r, fmt.Sprintf("its layers could not be added to the target's tag %s (%s), which is kept", r.Tag, quoteText(err.Error())))
		return nil
	}
	if err := w.WriteBlob(ctx, cl); err != nil {
		return &RefError{Op: "uploading the config of", Ref: tag, Err: err}
	}
	return t.tagged(r, tag, w.Put(ctx, tag, joined))
}
