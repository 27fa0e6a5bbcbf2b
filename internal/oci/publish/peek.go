package publish

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
)

// peek records what t's first tag points at, or that it is missing.
func (r *reuser) peek(ctx context.Context, d *registryDest, t *repoTarget, mountFrom []name.Repository) {
	if len(t.tags) == 0 {
		return // checked by the index's digest, not known yet
	}
	w, err := d.writer(ctx, t.repo, mountFrom...)
	if err != nil {
		return
	}
	ref := t.repo.Tag(t.tags[0])
	got, err := w.Head(ctx, ref)
	r.recordTag(ref, got, err)
}
