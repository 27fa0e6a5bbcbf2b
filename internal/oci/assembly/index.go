package assembly

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// index is an image index whose manifest JSON we write ourselves, so the
// descriptors say exactly what buildx would: go-containerregistry's
// mutate.AppendManifests adds an artifactType (the config media type) to
// image descriptors, which the image spec reserves for artifacts.
type index struct {
	raw      []byte
	manifest *v1.IndexManifest
	images   map[v1.Hash]v1.Image
}

var _ v1.ImageIndex = (*index)(nil)

func newIndex(mt types.MediaType, descs []v1.Descriptor, imgs []v1.Image, annotations map[string]string) (*index, error) {
	im := &v1.IndexManifest{SchemaVersion: 2, MediaType: mt, Manifests: descs, Annotations: annotations}
	raw, err := json.Marshal(im)
	if err != nil {
		return nil, err
	}
	idx := &index{raw: raw, manifest: im, images: map[v1.Hash]v1.Image{}}
	for i, img := range imgs {
		idx.images[descs[i].Digest] = img
	}
	return idx, nil
}

func (i *index) MediaType() (types.MediaType, error)       { return i.manifest.MediaType, nil }
func (i *index) Digest() (v1.Hash, error)                  { return partial.Digest(i) }
func (i *index) Size() (int64, error)                      { return partial.Size(i) }
func (i *index) IndexManifest() (*v1.IndexManifest, error) { return i.manifest.DeepCopy(), nil }
func (i *index) RawManifest() ([]byte, error)              { return i.raw, nil }

func (i *index) Image(h v1.Hash) (v1.Image, error) {
	if img, ok := i.images[h]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("index has no image %s", h)
}

func (i *index) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("index has no child index %s", h)
}

// descriptorOf describes img for an index: digest, size, media type and
// the given platform and annotations, nothing more.
func descriptorOf(img v1.Image, p *v1.Platform, annotations map[string]string) (v1.Descriptor, error) {
	d := v1.Descriptor{Platform: p, Annotations: annotations}
	var err error
	if d.MediaType, err = img.MediaType(); err != nil {
		return d, err
	}
	if d.Digest, err = img.Digest(); err != nil {
		return d, err
	}
	if d.Size, err = img.Size(); err != nil {
		return d, err
	}
	return d, nil
}
