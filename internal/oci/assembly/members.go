package assembly

import (
	"context"
	"fmt"

	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
)

// ReadMembers reads and flattens every source at once with the others, at
// most jobs at a time: on a real network those reads are round trips, and
// one after another they added up. Remote images keep the context they
// were read with for later lazy reads, and errgroup cancels its own context
// when Wait returns: so they are read with the caller's. With referrers,
// each member's are looked for in the same goroutine, while other sources
// are still being read. It returns the members merged in source order, and
// the digest each source resolved to.
func ReadMembers(ctx context.Context, srcs []source.Source, mt plan.IndexMediaType, referrers bool, jobs int) ([]*Member, []v1.Hash, error) {
	flat := make([][]*Member, len(srcs))
	read := make([]v1.Hash, len(srcs))
	var g errgroup.Group
	g.SetLimit(jobs)
	for i, src := range srcs {
		g.Go(func() error {
			t, err := src.Read(ctx)
			if err != nil {
				return err
			}
			// Read from the manifest already read: no request.
			if read[i], err = t.Digest(); err != nil {
				return fmt.Errorf("%w %s: %v", plan.ErrSource, src.Ref(), err)
			}
			if flat[i], err = flatten(ctx, src.Ref(), t, mt); err != nil || !referrers {
				return err
			}
			for _, m := range flat[i] {
				if m.referrers, err = src.Referrers(ctx, m.digest); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	var members []*Member
	for _, ms := range flat {
		var err error
		if members, err = merge(members, ms); err != nil {
			return nil, nil, err
		}
	}
	return members, read, nil
}
