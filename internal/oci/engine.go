package oci

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/publish"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"
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
func (a *Assembler) Resolve(ctx context.Context, src plan.Ref) (source.Taggable, error) {
	return open(a.c, src, source.DigestOnly, nil).Read(ctx)
}

// Assemble resolves every source and builds the index. It publishes
// nothing: the only writes are a Build's new layer blobs and the
// compressed layers of docker-archive sources, streamed to one target
// when p.Stage is set, which no manifest names yet.
func (a *Assembler) Assemble(ctx context.Context, p Plan) (*assembly.Assembly, error) {
	t := publish.NewTargets(a.c, p.Targets, p.Stage)
	if p.Build != nil {
		if len(p.Sources) > 0 {
			return nil, fmt.Errorf("%w: give sources or a build, not both", plan.ErrSource)
		}
		t.ReadPrior(ctx)
		var base source.Source
		if !p.Build.Scratch {
			base = open(a.c, p.Build.Base, t.Stage, nil)
		}
		members, baseDigest, err := assembly.BuildMembers(ctx, base, p.Build, t.Stage, a.c.Jobs())
		if err != nil {
			return nil, err
		}
		as, err := finish(members, p, t, nil)
		if as != nil {
			as.Base = baseDigest
		}
		return as, err
	}
	if len(p.Sources) == 0 {
		return nil, fmt.Errorf("%w: no sources", plan.ErrSource)
	}
	if slices.ContainsFunc(p.Sources, func(s plan.Ref) bool { return s.Transport == plan.DockerArchive }) {
		t.ReadPrior(ctx)
	} else {
		t.Peek(ctx, p.Sources)
	}
	f := source.NewReferrerFinder(a.c)
	srcs := make([]source.Source, len(p.Sources))
	for i, r := range p.Sources {
		srcs[i] = open(a.c, r, t.Stage, f)
	}
	members, read, err := assembly.ReadMembers(ctx, srcs, p.MediaType, p.Referrers, a.c.Jobs())
	if err != nil {
		return nil, err
	}
	as, err := finish(members, p, t, f.Warnings())
	if as != nil {
		as.SourceDigests = read
	}
	return as, err
}

// finish applies manifest annotations, gives a Docker manifest list
// Docker children, and builds the index; warnings come first in its
// Warnings.
func finish(members []*assembly.Member, p Plan, t *publish.Targets, warnings []string) (*assembly.Assembly, error) {
	as, err := assembly.AssembleIndex(members, p.Annotations, p.MediaType)
	if err != nil {
		return nil, err
	}
	as.Warnings = append(warnings, as.Warnings...)
	as.Reused = t.Reused()
	as.Warnings = append(as.Warnings, t.Warnings()...)
	as.Targets, as.Sources = t, p.Sources
	return as, nil
}

// Publish writes the assembly to its plan's targets (see Targets.Publish).
func (a *Assembler) Publish(ctx context.Context, as *assembly.Assembly) (*publish.Result, error) {
	t, ok := as.Targets.(*publish.Targets)
	if !ok {
		return nil, errors.New("publishing an assembly that Assemble did not make")
	}
	return t.Publish(ctx, as)
}

// Plan says what to join and how. Targets are used by Publish, and by a
// Build that stages its layers.
type Plan struct {
	Sources []plan.Ref
	// Build, when set, makes the platform images from a base and local
	// files instead of reading Sources (which must then be empty).
	Build       *plan.Build
	Targets     []plan.Ref
	Annotations []plan.Annotation
	MediaType   plan.IndexMediaType
	// Referrers: find the signatures, SBOMs and attestations of the
	// platform images read from registries and layouts, to copy them
	// with the index.
	Referrers bool
	// Stage says Publish follows (it is false for a dry run, which asks
	// the targets nothing). New layers (a Build's, and the uncompressed
	// layers of docker-archive sources) are then streamed to the first
	// target while they are compressed (without it they are compressed
	// once for their digests and sent again when published), and the
	// targets' first tags are read while the sources are (Targets.Peek,
	// Targets.ReadPrior).
	Stage bool
}
