package source

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	"golang.org/x/sync/errgroup"
)

// StageAll stages every builder's layer, by builder key.
func StageAll(ctx context.Context, jobs int, stage StageFunc, builders []*layer.Builder) (map[string]v1.Layer, error) {
	staged := make([]v1.Layer, len(builders))
	// A staged layer is read again later (to copy it to another registry)
	// with the context it was staged with, and errgroup cancels its own
	// when Wait returns: so stage with the caller's.
	var g errgroup.Group
	g.SetLimit(jobs)
	for i, bl := range builders {
		g.Go(func() error {
			l, err := stage(ctx, bl)
			staged[i] = l
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[string]v1.Layer, len(builders))
	for i, bl := range builders {
		out[bl.Key()] = staged[i]
	}
	return out, nil
}

// StageFunc streams one layer to where it is kept and returns a layer
// that reads the staged copy and reports the now-known digests.
type StageFunc func(context.Context, *layer.Builder) (v1.Layer, error)

// DigestOnly compresses the layer once into nothing, for its digests.
func DigestOnly(_ context.Context, bl *layer.Builder) (v1.Layer, error) {
	l, err := bl.Layer()
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("building layer: %w", err)
	}
	return l, nil
}
