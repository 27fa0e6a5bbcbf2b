package sign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Referrer annotations cosign writes on a bundle's referrer manifest, and
// reads back to tell signatures and attestations apart.
const (
	AnnotationCreated       = "org.opencontainers.image.created"
	AnnotationBundleContent = "dev.sigstore.bundle.content"
	AnnotationPredicateType = "dev.sigstore.bundle.predicateType"
	// BundleContentDSSE is AnnotationBundleContent's value: the bundle
	// holds a DSSE envelope.
	BundleContentDSSE = "dsse-envelope"
)

// EmptyConfigMediaType is the config media type of the referrer manifest,
// the OCI 1.1 empty descriptor
// (https://github.com/opencontainers/image-spec/blob/v1.1.0/manifest.md#guidance-for-an-empty-descriptor).
const EmptyConfigMediaType types.MediaType = "application/vnd.oci.empty.v1+json"

// emptyConfig is the content of the empty config blob: "{}".
var emptyConfig = []byte("{}")

// Artifact is a referrer manifest with the blobs it names. It is a
// remote.Taggable: push Blobs, then put it by its digest (WriteReferrer).
type Artifact struct {
	// Manifest is the OCI image manifest, byte for byte as pushed.
	Manifest []byte
	// Descriptor describes Manifest as a referrers list entry does:
	// media type, digest, size, artifactType and annotations.
	Descriptor v1.Descriptor
	// Blobs are the config ("{}") and the bundle layer.
	Blobs []v1.Layer
}

// RawManifest implements remote.Taggable.
func (a *Artifact) RawManifest() ([]byte, error) { return a.Manifest, nil }

// MediaType implements remote.Taggable.
func (a *Artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

var _ remote.Taggable = (*Artifact)(nil)

// Referrer returns the manifest cosign 3 writes to attach b to subject
// (cosign's ociremote.WriteAttestationNewBundleFormat): an OCI image
// manifest with artifactType BundleMediaType, the empty config "{}"
// (which also carries the artifactType, as cosign writes it), one layer
// holding the bundle JSON, subject naming the signed manifest by media
// type, digest and size, and annotations for the creation time, the
// bundle content and the predicate type. cosign verify and
// verify-attestation find it through the referrers API, or the
// sha256-<hex> fallback tag on a registry without one.
func Referrer(subject v1.Descriptor, b *Bundle) (*Artifact, error) {
	if b == nil || len(b.JSON) == 0 {
		return nil, errors.New("referrer: no bundle")
	}
	if subject.Digest.Hex == "" || subject.MediaType == "" || subject.Size <= 0 {
		return nil, fmt.Errorf("referrer: subject %s needs a media type, digest and size", subject.Digest)
	}
	cfg := static.NewLayer(emptyConfig, EmptyConfigMediaType)
	layer := static.NewLayer(b.JSON, BundleMediaType)
	cfgDesc, err := descriptorOf(cfg)
	if err != nil {
		return nil, err
	}
	cfgDesc.ArtifactType = BundleMediaType
	layerDesc, err := descriptorOf(layer)
	if err != nil {
		return nil, err
	}
	created := b.Signed
	if created.IsZero() {
		created = time.Now()
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        cfgDesc,
		Layers:        []v1.Descriptor{layerDesc},
		Annotations: map[string]string{
			AnnotationCreated:       created.UTC().Format(time.RFC3339),
			AnnotationBundleContent: BundleContentDSSE,
			AnnotationPredicateType: b.PredicateType,
		},
		Subject:      &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		ArtifactType: BundleMediaType,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("referrer: %w", err)
	}
	d, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return &Artifact{
		Manifest: raw,
		Descriptor: v1.Descriptor{
			MediaType: types.OCIManifestSchema1, Digest: d, Size: size,
			ArtifactType: BundleMediaType, Annotations: m.Annotations,
		},
		Blobs: []v1.Layer{cfg, layer},
	}, nil
}

func descriptorOf(l v1.Layer) (v1.Descriptor, error) {
	mt, err := l.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	d, err := l.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	size, err := l.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: size}, nil
}

// WriteReferrer pushes a's blobs and then its manifest by digest to repo.
// ggcr's remote.Put keeps the sha256-<hex> fallback tag index when the
// registry has no referrers API.
func WriteReferrer(ctx context.Context, repo name.Repository, a *Artifact, opts ...remote.Option) error {
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	for _, l := range a.Blobs {
		if err := remote.WriteLayer(repo, l, opts...); err != nil {
			return fmt.Errorf("pushing signature blob to %s: %w", repo, err)
		}
	}
	if err := remote.Put(repo.Digest(a.Descriptor.Digest.String()), a, opts...); err != nil {
		return fmt.Errorf("pushing signature manifest to %s: %w", repo, err)
	}
	return nil
}
