package oci

import (
	"context"
	"errors"
	"fmt"
	"slices"

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
	return Open(a.c, src, digestOnly, nil).Read(ctx)
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
		var base Source
		if !plan.Build.Scratch {
			base = Open(a.c, plan.Build.Base, t.Stage, nil)
		}
		members, err := buildMembers(ctx, base, plan.Build, t.Stage, a.c.Jobs())
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
	f := newReferrerFinder(a.c)
	srcs := make([]Source, len(plan.Sources))
	for i, r := range plan.Sources {
		srcs[i] = Open(a.c, r, t.Stage, f)
	}
	members, read, err := readMembers(ctx, srcs, plan.MediaType, plan.Referrers, a.c.Jobs())
	if err != nil {
		return nil, err
	}
	as, err := finish(members, plan, t, f.Warnings())
	if as != nil {
		as.SourceDigests = read
	}
	return as, err
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
	t, ok := as.Targets.(*Targets)
	if !ok {
		return nil, errors.New("publishing an assembly that Assemble did not make")
	}
	return t.Publish(ctx, as)
}
