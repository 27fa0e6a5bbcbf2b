package oci

import (
	"context"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/oci-assemble/oci-assemble/internal/oci/client"
)

// Assembler joins images into an index and publishes it, through one
// registry client.
type Assembler struct {
	c *client.Client
}

// New returns an Assembler that reads and writes through c.
func New(c *client.Client) *Assembler { return &Assembler{c: c} }

// Resolve reads a source into a v1.Image or v1.ImageIndex. Registry
// sources are read lazily through the registry; layouts and archives from
// disk (an archive's uncompressed layers are compressed once here, to
// learn their digests).
func (a *Assembler) Resolve(ctx context.Context, src Ref) (Taggable, error) {
	return resolve(ctx, a.c, src, digestOnly)
}

// Assemble resolves every source and builds the index. It publishes
// nothing: the only writes are a Build's new layer blobs and the
// compressed layers of docker-archive sources, streamed to one target
// when plan.Stage is set, which no manifest names yet.
func (a *Assembler) Assemble(ctx context.Context, plan Plan) (*Assembly, error) {
	t := NewTargets(a.c, plan.Targets, plan.Stage)
	if plan.Build != nil {
		if len(plan.Sources) > 0 {
			return nil, fmt.Errorf("%w: give sources or a build, not both", ErrSource)
		}
		t.ReadPrior(ctx)
		members, err := buildMembers(ctx, a.c, plan.Build, t.Stage)
		if err != nil {
			return nil, err
		}
		return finish(members, plan, t, nil)
	}
	if len(plan.Sources) == 0 {
		return nil, fmt.Errorf("%w: no sources", ErrSource)
	}
	if slices.ContainsFunc(plan.Sources, func(s Ref) bool { return s.Transport == DockerArchive }) {
		t.ReadPrior(ctx)
	} else {
		t.Peek(ctx, plan.Sources)
	}
	members, read, warnings, err := readSources(ctx, a.c, plan, t.Stage)
	if err != nil {
		return nil, err
	}
	as, err := finish(members, plan, t, warnings)
	if as != nil {
		as.SourceDigests = read
	}
	return as, err
}

// readSources resolves and flattens every source at once with the others:
// on a real network those reads are round trips, and one after another
// they added up. Remote images keep the context they were read with for
// later lazy reads, and errgroup cancels its own context when Wait
// returns: so resolve with the caller's. Their referrers are looked for in
// the same goroutine, while other sources are still being read. It returns
// the members merged in source order, the digest each registry source was
// read at, and the referrer finder's warnings.
func readSources(ctx context.Context, c *client.Client, plan Plan, stage stageFunc) ([]*member, []v1.Hash, []string, error) {
	flat := make([][]*member, len(plan.Sources))
	read := make([]v1.Hash, len(plan.Sources))
	f := newReferrerFinder(c)
	var g errgroup.Group
	g.SetLimit(c.Jobs())
	for i, src := range plan.Sources {
		g.Go(func() error {
			t, err := resolve(ctx, c, src, stage)
			if err != nil {
				return err
			}
			if src.Transport == Registry {
				// Read from the manifest already fetched: no request.
				if read[i], err = t.Digest(); err != nil {
					return fmt.Errorf("%w %s: %v", ErrSource, src, err)
				}
			}
			if flat[i], err = flatten(ctx, src, t, plan.MediaType); err != nil || !plan.Referrers {
				return err
			}
			for _, m := range flat[i] {
				if err := f.member(ctx, m); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, nil, err
	}
	var members []*member
	for _, ms := range flat {
		var err error
		if members, err = merge(members, ms); err != nil {
			return nil, nil, nil, err
		}
	}
	return members, read, f.warnings, nil
}

// finish applies manifest annotations, gives a Docker manifest list
// Docker children, and builds the index; warnings come first in its
// Warnings.
func finish(members []*member, plan Plan, t *Targets, warnings []string) (*Assembly, error) {
	as, err := assembleIndex(members, plan.Annotations, plan.MediaType)
	if err != nil {
		return nil, err
	}
	as.Warnings = append(warnings, as.Warnings...)
	as.Reused = t.Reused()
	as.Warnings = append(as.Warnings, t.Warnings()...)
	as.Targets, as.Sources = t, plan.Sources
	return as, nil
}

// Publish writes the assembly to its plan's targets (see Targets.Publish).
func (a *Assembler) Publish(ctx context.Context, as *Assembly) (*Result, error) {
	return as.Targets.Publish(ctx, as)
}
