package sign

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Cosign's legacy signature format, which verifiers older than bundle
// support read: an image tagged sha256-<hex>.sig whose layers are simple
// signing payloads, each with its signature in the layer's annotations
// (https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md).
const SimpleSigningMediaType types.MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"

// AnnotationSignature holds a legacy signature layer's base64 signature.
const AnnotationSignature = "dev.cosignproject.cosign/signature"

// LegacySignature is one layer of a legacy .sig image.
type LegacySignature struct {
	// Payload is the simple signing payload naming the repository and the
	// manifest digest.
	Payload []byte
	// Annotations carry the base64 signature of Payload.
	Annotations map[string]string
}

// SignLegacy signs ref (a manifest by digest) in cosign's legacy format.
// Without a transparency log or timestamp such a signature verifies only
// with a key; keyless legacy signatures also need Rekor, which this does not
// record them in, so SignLegacy is for key mode.
func (s *Signer) SignLegacy(ctx context.Context, ref name.Digest) (*LegacySignature, error) {
	if s.opts.Mode != ModeKey {
		return nil, errors.New("legacy .sig signatures: only key mode makes them; keyless signatures are bundles")
	}
	p, err := payload.Cosign{Image: ref}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("legacy signature of %s: %w", ref, err)
	}
	sig, _, err := s.keypair.SignData(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("legacy signature of %s: %w", ref, err)
	}
	return &LegacySignature{
		Payload:     p,
		Annotations: map[string]string{AnnotationSignature: base64.StdEncoding.EncodeToString(sig)},
	}, nil
}

// LegacyTag is the tag cosign reads legacy signatures of ref from:
// sha256-<hex>.sig in ref's repository.
func LegacyTag(ref name.Digest) (name.Tag, error) {
	alg, hex, ok := strings.Cut(ref.DigestStr(), ":")
	if !ok {
		return name.Tag{}, fmt.Errorf("legacy tag: %s has no digest", ref)
	}
	return ref.Context().Tag(alg + "-" + hex + ".sig"), nil
}

// AppendLegacy returns the .sig image with sigs added: base is the image
// the tag holds now, or nil for none. A signature already there (same
// payload and signature) is not added twice.
func AppendLegacy(base v1.Image, sigs ...*LegacySignature) (v1.Image, error) {
	if base == nil {
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	m, err := base.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading the .sig image: %w", err)
	}
	have := map[string]bool{}
	for _, l := range m.Layers {
		have[l.Digest.String()+" "+l.Annotations[AnnotationSignature]] = true
	}
	img := base
	for _, sig := range sigs {
		l := static.NewLayer(sig.Payload, SimpleSigningMediaType)
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		if have[d.String()+" "+sig.Annotations[AnnotationSignature]] {
			continue
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, Annotations: sig.Annotations})
		if err != nil {
			return nil, fmt.Errorf("adding a signature to the .sig image: %w", err)
		}
	}
	return img, nil
}
