package publish

import (
	"context"
	"slices"

	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
)

// destination is where an assembly is published: the repositories of one
// registry, or one OCI layout. Publish runs each phase on every
// destination before the next phase starts, so no tag moves anywhere
// before every destination holds the index by digest.
type destination interface {
	// stage streams a new layer to the destination while it is built
	// and returns a layer that reads the staged copy.
	stage(ctx context.Context, bl *layer.Builder) (v1.Layer, error)
	// write puts every blob and manifest of the index by digest and
	// moves no tag.
	write(ctx context.Context, as *assembly.Assembly) error
	// tagJobs are the tag moves, each independent of the others.
	tagJobs(as *assembly.Assembly) []tagJob
	// verify reads every tag back and compares it with the index.
	verify(ctx context.Context, as *assembly.Assembly) error
	// targets describes what now points at the index.
	targets(as *assembly.Assembly) []Target
}

// tagJob moves one tag (or all of a layout's, which share index.json).
type tagJob struct {
	name string
	do   func(context.Context) error
}

// destinations turns targets into destinations: one per registry, with
// its repositories in first-seen order, then one per layout path, each
// with its tags deduplicated in input order.
func destinations(c *client.Client, targets []plan.Ref) []destination {
	var regs []*registryDest
	var lays []*layoutDest
	for _, t := range targets {
		if t.Transport == plan.Registry {
			t.Repo = c.Repository(t.Repo)
		}
		switch t.Transport {
		case plan.Layout:
			i := slices.IndexFunc(lays, func(l *layoutDest) bool { return l.path == t.Path })
			if i < 0 {
				lays = append(lays, &layoutDest{path: t.Path})
				i = len(lays) - 1
			}
			lays[i].tags = addTag(lays[i].tags, t.Tag)
		case plan.Registry:
			i := slices.IndexFunc(regs, func(r *registryDest) bool { return r.host == t.Repo.RegistryStr() })
			if i < 0 {
				regs = append(regs, &registryDest{c: c, host: t.Repo.RegistryStr()})
				i = len(regs) - 1
			}
			regs[i].add(t)
		}
	}
	// The index is PUT by digest before any tag moves, so that every
	// target holds it before the first tag points at it; a single
	// repository with tags has no other target to wait for, and its
	// first tag PUT stores the index.
	if len(regs) == 1 && len(lays) == 0 && len(regs[0].repos) == 1 && len(regs[0].repos[0].tags) > 0 {
		regs[0].sole = true
	}
	out := make([]destination, 0, len(regs)+len(lays))
	for _, r := range regs {
		out = append(out, r)
	}
	for _, l := range lays {
		out = append(out, l)
	}
	return out
}

func addTag(tags []string, tag string) []string {
	if tag != "" && !slices.Contains(tags, tag) {
		return append(tags, tag)
	}
	return tags
}
