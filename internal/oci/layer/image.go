package layer

import (
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/oci-assemble/oci-assemble/internal/oci/convert"
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
	img, err := convert.ToOCI(base)
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
