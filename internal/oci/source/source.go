package source

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Annotation keys buildx and BuildKit use to attach attestation manifests
// (provenance, SBOM) to the platform manifest they describe.
const (
	RefTypeAnnotation   = "vnd.docker.reference.type"
	RefDigestAnnotation = "vnd.docker.reference.digest"
	AttestationManifest = "attestation-manifest"
)

// Taggable is what a source resolves to: a v1.Image or a v1.ImageIndex.
type Taggable interface {
	MediaType() (types.MediaType, error)
	Digest() (v1.Hash, error)
	RawManifest() ([]byte, error)
}

// cachedConfigImage serves a registry image's config layer from the
// config already read to learn its platform. The config layer of a
// remote.Image reads the blob from the source again when it is copied to
// another registry; this one is still mounted within the source's
// registry (it is a *remote.MountableLayer) and is uploaded from memory
// elsewhere.
type cachedConfigImage struct {
	v1.Image
	repo name.Repository
}

// NewCachedConfigImage wraps a registry image, once its manifest is known
// to be at most maxManifestSize bytes and to name a config of at most
// maxConfigSize: the config is read whole into memory, and the registry
// sends what the manifest's size says, no more (the read is verified).
func NewCachedConfigImage(img v1.Image, repo name.Repository) (*cachedConfigImage, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	if err := CheckManifestSize("manifest "+d.String(), raw); err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	if err := CheckSize("config", m.Config, MaxConfigSize); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d, err)
	}
	return &cachedConfigImage{Image: img, repo: repo}, nil
}

// ConfigLayer implements partial.WithConfigLayer.
func (i *cachedConfigImage) ConfigLayer() (v1.Layer, error) {
	h, err := i.ConfigName()
	if err != nil {
		return nil, err
	}
	raw, err := i.RawConfigFile()
	if err != nil {
		return nil, err
	}
	m, err := i.Manifest()
	if err != nil {
		return nil, err
	}
	return &remote.MountableLayer{Layer: static.NewLayer(raw, m.Config.MediaType), Reference: i.repo.Digest(h.String())}, nil
}
