package publish

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/oci-assemble/oci-assemble/internal/oci/publish/reuse"
)

// peek records in r what t's first tag points at, or that it is missing.
func (d *registryDest) peek(ctx context.Context, t *repoTarget, mountFrom []name.Repository, r *reuse.Prior) {
	if len(t.tags) == 0 {
		return // checked by the index's digest, not known yet
	}
	w, err := d.writer(ctx, t.repo, mountFrom...)
	if err != nil {
		return
	}
	ref := t.repo.Tag(t.tags[0])
	got, err := w.Head(ctx, ref)
	r.RecordTag(ref, got, err)
}
