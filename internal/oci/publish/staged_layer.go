package publish

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
)

// stagedLayer describes l, just staged in repo, as the blob repo holds:
// reading it streams the blob back, and the writer of another repository
// of the same registry mounts it from repo instead of uploading it again.
func stagedLayer(ctx context.Context, c *client.Client, l v1.Layer, repo name.Repository) (v1.Layer, error) {
	info, err := layer.InfoOf(l)
	if err != nil {
		return nil, err
	}
	return c.HeldLayer(ctx, repo, info)
}
