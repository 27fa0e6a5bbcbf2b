package cleanup

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrTagMoved is wrapped in the reason a tag is kept when it no longer
// points at the digest this run read: another run pushed it since, and
// the tag is that run's input now. The distribution spec has no
// conditional DELETE, so the tag is re-read right before each way of
// deleting it.
var ErrTagMoved = errors.New("tag no longer points at the digest this run read")

// checkUnmoved re-reads tag and returns a *keptError when it does not
// point at want (wrapping ErrTagMoved when it points elsewhere).
func (d *Deleter) checkUnmoved(ctx context.Context, tag name.Tag, want v1.Hash) error {
	got, err := d.digestOf(ctx, tag)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			return keep(fmt.Errorf("%w: the tag is gone", ErrTagMoved), "the tag was deleted by someone else while this run cleaned up", "nothing to do")
		}
		return keep(err, "re-reading the tag before deleting it failed ("+describe(err)+")", fixFor(err, tag.Context()))
	}
	if got != want {
		return movedError(want, got)
	}
	return nil
}

func movedError(read, now v1.Hash) error {
	return keep(fmt.Errorf("%w: read at %s, now %s", ErrTagMoved, read, now),
		fmt.Sprintf("the tag points at %s, not at %s that this run read: another run pushed it since", now, read),
		"nothing to do: the tag is that run's now; delete it when it is done")
}

// digestOf is what tag points at: a HEAD, or a GET where the registry's
// HEAD does not say.
func (d *Deleter) digestOf(ctx context.Context, tag name.Tag) (v1.Hash, error) {
	desc, err := remote.Head(tag, d.remoteOptions(ctx)...)
	if err == nil {
		return desc.Digest, nil
	}
	if statusOf(err) == http.StatusNotFound {
		return v1.Hash{}, err
	}
	full, gerr := remote.Get(tag, d.remoteOptions(ctx)...)
	if gerr != nil {
		return v1.Hash{}, gerr
	}
	return full.Digest, nil
}
