// Package convert describes images with OCI media types. Joined Docker
// archives, Docker images given manifest annotations (Docker schema 2 has
// none) and Docker bases of layer mode all go through ToOCI, so every
// conversion keeps the same things.
package convert

import (
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ociLayerType maps Docker layer media types to their OCI equivalents
// (https://github.com/opencontainers/image-spec/blob/main/media-types.md#compatibility-matrix).
var ociLayerType = map[types.MediaType]types.MediaType{
	types.DockerLayer:             types.OCILayer,
	types.DockerUncompressedLayer: types.OCIUncompressedLayer,
	types.DockerForeignLayer:      types.OCIRestrictedLayer,
}

// ToOCI returns base described with OCI media types — manifest, config
// and layers — and everything else kept: config, layer URLs and
// annotations, manifest annotations. The blobs are unchanged, so only the
// manifest digest changes; an OCI image that needs no change is returned
// as it is.
func ToOCI(base v1.Image) (v1.Image, error) {
	mt, err := base.MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading media type: %w", err)
	}
	switch mt {
	case types.OCIManifestSchema1:
		m, err := base.Manifest()
		if err != nil {
			return nil, fmt.Errorf("reading manifest: %w", err)
		}
		if slices.ContainsFunc(m.Layers, func(d v1.Descriptor) bool { _, docker := ociLayerType[d.MediaType]; return docker }) {
			// An OCI manifest listing Docker layer types (some tools write
			// them): re-described below like a Docker manifest, since
			// umoci and others refuse the mix.
			break
		}
		if m.Config.MediaType == types.DockerConfigJSON {
			// Seen from tools that switch only the manifest type; umoci and
			// others refuse an OCI manifest pointing at a Docker config.
			return mutate.ConfigMediaType(base, types.OCIConfigJSON), nil
		}
		return base, nil
	case types.DockerManifestSchema2:
	default:
		return nil, fmt.Errorf("image has manifest type %s; want an OCI or Docker v2 image manifest", mt)
	}
	m, err := base.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	cf, err := base.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	layers, err := base.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers: %w", err)
	}
	if len(m.Layers) != len(layers) {
		return nil, fmt.Errorf("manifest lists %d layers, image has %d", len(m.Layers), len(layers))
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	adds := make([]mutate.Addendum, len(layers))
	for i, l := range layers {
		desc := m.Layers[i]
		lmt := desc.MediaType
		if o, ok := ociLayerType[lmt]; ok {
			lmt = o
		}
		adds[i] = mutate.Addendum{Layer: withMediaType(l, lmt), MediaType: lmt, URLs: desc.URLs, Annotations: desc.Annotations}
	}
	if img, err = mutate.Append(img, adds...); err != nil {
		return nil, fmt.Errorf("re-describing layers: %w", err)
	}
	// The base's own config (history, rootfs, everything) replaces the one
	// Append derived, so nothing of the base is lost.
	if img, err = mutate.ConfigFile(img, cf.DeepCopy()); err != nil {
		return nil, fmt.Errorf("restoring config: %w", err)
	}
	if len(m.Annotations) > 0 {
		annotated, ok := mutate.Annotations(img, m.Annotations).(v1.Image)
		if !ok {
			return nil, fmt.Errorf("copying manifest annotations: not an image")
		}
		img = annotated
	}
	return img, nil
}

// retypedLayer is a layer re-described with another media type.
type retypedLayer struct {
	v1.Layer
	mt types.MediaType
}

var _ v1.Layer = (*retypedLayer)(nil)

// MediaType implements v1.Layer.
func (l *retypedLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// withMediaType re-describes l. A remote layer stays a
// *remote.MountableLayer, which names the repository it can be mounted
// from instead of being downloaded and uploaded again.
func withMediaType(l v1.Layer, mt types.MediaType) v1.Layer {
	if ml, ok := l.(*remote.MountableLayer); ok {
		return &remote.MountableLayer{Layer: &retypedLayer{Layer: ml.Layer, mt: mt}, Reference: ml.Reference}
	}
	return &retypedLayer{Layer: l, mt: mt}
}
