package layer

import (
	"fmt"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Build returns base with layers appended and cc applied to its config, for
// platform p (whose os, architecture and variant go into the config, so
// empty.Image works as a scratch base). history has one entry per layer
// (see Resolved.History) or is empty for entries without a description; an
// entry without a Created time gets created. The config's created is set to
// created.
//
// The result is always an OCI image (manifest and config media types): zstd
// layers have no Docker media type, and a manifest mixing the two families is
// refused by some registries. A Docker base's layers are re-described with
// the equivalent OCI media types; their bytes and digests are unchanged.
//
// Build does no I/O beyond reading base's manifest and config; streaming
// layers are read when the image is written.
func Build(base v1.Image, p v1.Platform, layers []v1.Layer, history []v1.History, cc ConfigChanges, created time.Time) (v1.Image, error) {
	if len(history) != 0 && len(history) != len(layers) {
		return nil, fmt.Errorf("building image: %d history entries for %d layers", len(history), len(layers))
	}
	img, err := toOCI(base)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading base config: %w", err)
	}
	cf = cf.DeepCopy()
	if err := applyChanges(cf, p, cc, created); err != nil {
		return nil, err
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("setting config: %w", err)
	}
	adds := make([]mutate.Addendum, len(layers))
	for i, l := range layers {
		h := v1.History{Created: v1.Time{Time: created}, CreatedBy: "oci-assemble", Comment: "oci-assemble"}
		if len(history) != 0 {
			h = history[i]
			if h.Created.IsZero() {
				h.Created = v1.Time{Time: created}
			}
		}
		adds[i] = mutate.Addendum{Layer: l, History: h}
	}
	img, err = mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("appending layers: %w", err)
	}
	return img, nil
}

// ociLayerType maps Docker layer media types to their OCI equivalents.
var ociLayerType = map[types.MediaType]types.MediaType{
	types.DockerLayer:             types.OCILayer,
	types.DockerUncompressedLayer: types.OCIUncompressedLayer,
	types.DockerForeignLayer:      types.OCIRestrictedLayer,
}

// toOCI returns base with OCI manifest and config media types.
func toOCI(base v1.Image) (v1.Image, error) {
	mt, err := base.MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading base media type: %w", err)
	}
	switch mt {
	case types.OCIManifestSchema1:
		m, err := base.Manifest()
		if err != nil {
			return nil, fmt.Errorf("reading base manifest: %w", err)
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
		return nil, fmt.Errorf("base image has manifest type %s; want an OCI or Docker v2 image manifest", mt)
	}
	m, err := base.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading base manifest: %w", err)
	}
	cf, err := base.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading base config: %w", err)
	}
	layers, err := base.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading base layers: %w", err)
	}
	if len(m.Layers) != len(layers) {
		return nil, fmt.Errorf("base manifest lists %d layers, image has %d", len(m.Layers), len(layers))
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
		return nil, fmt.Errorf("re-describing base layers: %w", err)
	}
	// The base's own config (history, rootfs, everything) replaces the one
	// Append derived, so nothing of the base is lost.
	if img, err = mutate.ConfigFile(img, cf.DeepCopy()); err != nil {
		return nil, fmt.Errorf("restoring base config: %w", err)
	}
	if len(m.Annotations) > 0 {
		annotated, ok := mutate.Annotations(img, m.Annotations).(v1.Image)
		if !ok {
			return nil, fmt.Errorf("copying base manifest annotations: not an image")
		}
		img = annotated
	}
	return img, nil
}

// retypedLayer is a base layer re-described with an OCI media type.
type retypedLayer struct {
	v1.Layer
	mt types.MediaType
}

var _ v1.Layer = (*retypedLayer)(nil)

// MediaType implements v1.Layer.
func (l *retypedLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// withMediaType re-describes l. A remote layer stays a *remote.MountableLayer:
// that type is what the writers (remote.Write and internal/oci's own) mount
// from the base's repository instead of downloading and uploading it again.
func withMediaType(l v1.Layer, mt types.MediaType) v1.Layer {
	if ml, ok := l.(*remote.MountableLayer); ok {
		return &remote.MountableLayer{Layer: &retypedLayer{Layer: ml.Layer, mt: mt}, Reference: ml.Reference}
	}
	return &retypedLayer{Layer: l, mt: mt}
}
