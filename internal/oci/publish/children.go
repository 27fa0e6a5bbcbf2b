package publish

import (
	"cmp"
	"context"
	"slices"

	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/push"
	"golang.org/x/sync/errgroup"
)

// pushChildren puts every manifest below the index by digest: each image
// manifest as soon as the blobs it names are in the repository, then
// nested indexes innermost first, once every image is. A registry checks
// that the blobs a manifest names exist, and nothing names these
// manifests until the index is pushed.
//
// Pushed each as its blobs are done, only the last image's manifest is
// left when the last blob is in, instead of all of them (bench/run.sh
// join).
func pushChildren(ctx context.Context, c *client.Client, w *push.Writer, ic *assembly.Contents) error {
	in := make(map[v1.Hash]chan struct{}, len(ic.Blobs))
	for _, l := range ic.Blobs {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		in[d] = make(chan struct{})
	}
	put := func(ctx context.Context, m source.Taggable) error {
		d, err := m.Digest()
		if err != nil {
			return err
		}
		ref := w.Repo().Digest(d.String())
		if err := w.Put(ctx, ref, m); err != nil {
			return &plan.RefError{Op: "pushing", Ref: ref, Err: err}
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return writeBlobs(gctx, c, w, ic.Blobs, in) })
	puts := make(chan struct{}, c.Jobs())
	for i, m := range ic.Images {
		g.Go(func() error {
			for _, d := range ic.Uses[i] {
				select {
				case <-in[d]:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			puts <- struct{}{}
			defer func() { <-puts }()
			return put(gctx, m)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, m := range ic.Indexes {
		if err := put(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// writeBlobs uploads blobs, at most jobs large ones at a time, largest
// first, and closes in[digest] when each is in the repository. Small
// blobs (configs) go alongside, at most jobs at a time of their own:
// their bodies are in memory and each costs two short requests, and
// queued behind the layers they were the last uploads to end, holding up
// the manifests (bench/run.sh join).
func writeBlobs(ctx context.Context, c *client.Client, w *push.Writer, blobs []v1.Layer, in map[v1.Hash]chan struct{}) error {
	var large, small []v1.Layer
	for _, l := range largestFirst(blobs) {
		if n, err := l.Size(); err == nil && n < push.SmallBlob {
			small = append(small, l)
		} else {
			large = append(large, l)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, lane := range [][]v1.Layer{large, small} {
		g.Go(func() error {
			lg, lctx := newGroup(gctx, c.Jobs())
			for _, l := range lane {
				lg.Go(func() error {
					d, err := l.Digest()
					if err != nil {
						return err
					}
					if err := w.WriteBlob(lctx, l); err != nil {
						return &plan.RefError{Op: "uploading", Ref: w.Repo().Digest(d.String()), Err: err}
					}
					close(in[d])
					return nil
				})
			}
			return lg.Wait()
		})
	}
	return g.Wait()
}

// largestFirst orders blobs for upload by size, largest first: with more
// blobs than jobs, the last to start are then the small ones, and the
// uploads end together instead of a large one starting when the others
// are done (longest processing time first). It relies on the sizes being
// known before any upload, which they are, from manifests or staging,
// without a request.
func largestFirst(blobs []v1.Layer) []v1.Layer {
	size := func(l v1.Layer) int64 {
		n, err := l.Size()
		if err != nil {
			return 0 // the upload reports it
		}
		return n
	}
	out := slices.Clone(blobs)
	slices.SortStableFunc(out, func(a, b v1.Layer) int { return cmp.Compare(size(b), size(a)) })
	return out
}
