package client

import (
	"context"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
)

// Blob opens the blob digest of repo, read with ctx.
func (c *Client) Blob(ctx context.Context, repo name.Repository, digest v1.Hash) (io.ReadCloser, error) {
	l, err := remote.Layer(repo.Digest(digest.String()), c.RemoteOptions(ctx)...)
	if err != nil {
		return nil, err
	}
	return l.Compressed()
}

// HeldLayer is the layer blob info describes, which repo holds: reading
// it streams the blob back (with ctx), and a writer of another repository
// of the same registry mounts it from repo instead of uploading it again.
func (c *Client) HeldLayer(ctx context.Context, repo name.Repository, info layer.Info) (v1.Layer, error) {
	l, err := layer.Known(info, func() (io.ReadCloser, error) { return c.Blob(ctx, repo, info.Digest) })
	if err != nil {
		return nil, err
	}
	return &remote.MountableLayer{Layer: l, Reference: repo.Digest(info.Digest.String())}, nil
}
