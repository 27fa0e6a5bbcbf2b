package publish

import (
	"context"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/oci-assemble/oci-assemble/internal/oci/client"
)

// stagedLayer describes a layer already in repo: reading it streams the
// blob back, and the writer of another repository of the same registry
// mounts it from repo instead of uploading it again.
func stagedLayer(ctx context.Context, c *client.Client, l v1.Layer, repo name.Repository) (v1.Layer, error) {
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	ref := repo.Digest(d.String())
	ropts := c.RemoteOptions(ctx)
	open := func() (io.ReadCloser, error) {
		rl, err := remote.Layer(ref, ropts...)
		if err != nil {
			return nil, err
		}
		return rl.Compressed()
	}
	sl, err := newKnownLayer(l, open)
	if err != nil {
		return nil, err
	}
	return &remote.MountableLayer{Layer: sl, Reference: ref}, nil
}

// knownLayer is a layer whose digests were computed while it was staged;
// its bytes are read from the staged copy.
type knownLayer struct {
	digest, diffID v1.Hash
	size           int64
	mediaType      types.MediaType
	open           func() (io.ReadCloser, error)
}

func newKnownLayer(l v1.Layer, open func() (io.ReadCloser, error)) (v1.Layer, error) {
	k := &knownLayer{open: open}
	var err error
	if k.digest, err = l.Digest(); err != nil {
		return nil, err
	}
	if k.diffID, err = l.DiffID(); err != nil {
		return nil, err
	}
	if k.size, err = l.Size(); err != nil {
		return nil, err
	}
	if k.mediaType, err = l.MediaType(); err != nil {
		return nil, err
	}
	return partial.CompressedToLayer(k)
}

func (k *knownLayer) Digest() (v1.Hash, error)            { return k.digest, nil }
func (k *knownLayer) DiffID() (v1.Hash, error)            { return k.diffID, nil }
func (k *knownLayer) Size() (int64, error)                { return k.size, nil }
func (k *knownLayer) MediaType() (types.MediaType, error) { return k.mediaType, nil }
func (k *knownLayer) Compressed() (io.ReadCloser, error)  { return k.open() }
