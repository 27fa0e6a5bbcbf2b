package publish

import (
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// mountIndex is an index whose images' blobs are mounted from another
// repository of the target's registry, which has just received them:
// each layer becomes a *remote.MountableLayer naming that repository,
// the type the writer mounts from (repoWriter.mountSource). The bytes are
// unchanged: a registry that refuses the mount (distribution-spec
// "Mounting a blob from another repository",
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#mounting-a-blob-from-another-repository)
// gets them uploaded from the original source as before.
type mountIndex struct {
	imageIndex
	from name.Repository
}

// imageIndex names the embedded index so mountIndex can define ImageIndex.
type imageIndex = v1.ImageIndex

func (m *mountIndex) Image(h v1.Hash) (v1.Image, error) {
	img, err := m.imageIndex.Image(h)
	if err != nil {
		return nil, err
	}
	return &mountImage{Image: img, from: m.from}, nil
}

func (m *mountIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	child, err := m.imageIndex.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	return &mountIndex{imageIndex: child, from: m.from}, nil
}

type mountImage struct {
	v1.Image
	from name.Repository
}

func (m *mountImage) Layers() ([]v1.Layer, error) {
	ls, err := m.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		if out[i], err = m.mountable(l); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ConfigLayer implements partial.WithConfigLayer.
func (m *mountImage) ConfigLayer() (v1.Layer, error) {
	cl, err := partial.ConfigLayer(m.Image)
	if err != nil {
		return nil, err
	}
	return m.mountable(cl)
}

func (m *mountImage) mountable(l v1.Layer) (v1.Layer, error) {
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	if ml, ok := l.(*remote.MountableLayer); ok {
		l = ml.Layer
	}
	return &remote.MountableLayer{Layer: l, Reference: m.from.Digest(d.String())}, nil
}
