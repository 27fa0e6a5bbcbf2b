package layer

import (
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Info is what is known of a layer blob without reading it.
type Info struct {
	Digest, DiffID v1.Hash
	Size           int64
	MediaType      types.MediaType
}

// InfoOf is l's digests, size and media type: for a layer just staged,
// known without reading it again.
func InfoOf(l v1.Layer) (Info, error) {
	var i Info
	var err error
	if i.Digest, err = l.Digest(); err != nil {
		return Info{}, err
	}
	if i.DiffID, err = l.DiffID(); err != nil {
		return Info{}, err
	}
	if i.Size, err = l.Size(); err != nil {
		return Info{}, err
	}
	if i.MediaType, err = l.MediaType(); err != nil {
		return Info{}, err
	}
	return i, nil
}

// Known is the layer info describes, whose blob open reads: a layer
// already kept somewhere (staged, or held by a target), read back from
// there.
func Known(info Info, open func() (io.ReadCloser, error)) (v1.Layer, error) {
	return partial.CompressedToLayer(&known{info: info, open: open})
}

type known struct {
	info Info
	open func() (io.ReadCloser, error)
}

func (k *known) Digest() (v1.Hash, error)            { return k.info.Digest, nil }
func (k *known) DiffID() (v1.Hash, error)            { return k.info.DiffID, nil }
func (k *known) Size() (int64, error)                { return k.info.Size, nil }
func (k *known) MediaType() (types.MediaType, error) { return k.info.MediaType, nil }
func (k *known) Compressed() (io.ReadCloser, error)  { return k.open() }
