package oci

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"golang.org/x/sync/errgroup"
)

// peekTargets starts reading, for a join that stages nothing, what the
// first tag of each target repository points at, through the writer the
// push will use. The registry's ping, the push token and the HEAD that
// tells a re-run from a first run (registryDest.writeRepo, headFirst)
// then overlap reading the sources instead of following it: on a real
// network, three round trips fewer one after another. It writes nothing;
// a read that fails only means the push reads again, and reports what it
// meets there.
func peekTargets(ctx context.Context, c *client.Client, targets, sources []Ref) *reuser {
	r := &reuser{c: c, byDiff: map[v1.Hash][]priorLayer{}, tags: map[string]priorTag{}, ready: make(chan struct{})}
	// The writer of a registry's first repository pulls from the sources
	// on its registry to mount their blobs; the others mount from the
	// first (registryDest.write). Asked for the same repositories, the
	// push gets the same writer and token.
	var from []name.Repository
	for _, s := range sources {
		if s.Transport == Registry {
			from = append(from, c.Repository(s.Repo))
		}
	}
	go func() {
		defer close(r.ready)
		// Not errgroup.WithContext: the writers keep the context they were
		// made with, and that one ends when Wait returns.
		var g errgroup.Group
		g.SetLimit(c.Jobs())
		for _, d := range destinations(c, targets) {
			rd, ok := d.(*registryDest)
			if !ok {
				continue
			}
			for i, t := range rd.repos {
				mount := from
				if i > 0 {
					mount = []name.Repository{rd.repos[0].repo}
				}
				g.Go(func() error {
					r.peek(ctx, rd, t, mount)
					return nil
				})
			}
		}
		_ = g.Wait() // peek only records
	}()
	return r
}

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
