package source

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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
	// Appends: `cosign sign` and `cosign attest` append a layer to the
	// tag's image (cosign's mutate.AppendSignatures); `cosign attach
	// sbom` writes an image of one layer, and `cosign download sbom`
	// reads only such an image.
	Appends bool
}

var CosignTags = map[string]cosignTag{
	".sig":  {kind: "cosign signature", layer: "application/vnd.dev.cosign.simplesigning.v1+json", Appends: true},
	".att":  {kind: "cosign attestation", layer: "application/vnd.dsse.envelope.v1+json", Appends: true},
	".sbom": {kind: "cosign SBOM"},
}

// CosignSuffix is the suffix of tag that names a cosign tag, or "".
func CosignSuffix(tag string) string {
	for sfx := range CosignTags {
		if strings.HasSuffix(tag, sfx) {
			return sfx
		}
	}
	return ""
}

// maxKindTypes bounds the media types a kind lists.
const maxKindTypes = 3

// CosignKind names the cosign tag tag that holds m: its kind, and the
// media types of its layers that are not that kind's own (an SBOM's
// format, or what a tag of that name holds instead). A media type that is
// not one by RFC 6838's characters is shown as "unknown": the kind is
// printed in logs and summaries.
func CosignKind(tag string, m *v1.Manifest) string {
	ct := CosignTags[CosignSuffix(tag)]
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

// NewReferrer is the Referrer of the manifest raw, described by desc, that
// refers to subject; tag is set for a cosign tag, which is named by its
// kind: it has no artifactType, and its config's media type (an image
// config's) says nothing of what it holds.
func NewReferrer(desc v1.Descriptor, raw []byte, subject v1.Hash, tag string) Referrer {
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
	r.Kind = CosignKind(tag, m)
	return r
}

// Label is how warnings name r: its tag or digest, and what it is.
func (r Referrer) Label() string {
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
