package archive

import (
	"context"

	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
)

// archiveSource reads a docker-archive: its uncompressed layers go to
// stage as they are compressed.
type archiveSource struct {
	c     *client.Client
	r     plan.Ref
	stage source.StageFunc
}

func (s archiveSource) Ref() plan.Ref { return s.r }

func (s archiveSource) Read(ctx context.Context) (source.Taggable, error) {
	return resolveArchive(ctx, s.c, s.r, s.stage)
}

// Referrers: an archive holds images only.
func (archiveSource) Referrers(context.Context, v1.Hash) ([]*source.FoundReferrer, error) {
	return nil, nil
}

// Open returns the reader of r.
func Open(c *client.Client, r plan.Ref, stage source.StageFunc) source.Source {
	return archiveSource{c: c, r: r, stage: stage}
}
