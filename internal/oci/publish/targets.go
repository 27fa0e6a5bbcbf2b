package publish

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/publish/reuse"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	"golang.org/x/sync/errgroup"
)

// Targets is where one run publishes, built once from the plan's target
// references: the destinations (one per registry, with its repositories,
// then one per layout), what their first tags pointed at before the run,
// and the layers staged to the first of them. Assembly stages new layers
// through it (Stage); Publish finishes it.
type Targets struct {
	c     *client.Client
	dests []destination
	// staging: new layers stream to the first destination while they are
	// built, and the targets are read before building. False for a dry
	// run, which asks the targets nothing.
	staging bool
	// prior is what the targets held before this run.
	prior *reuse.Prior
	stage source.StageFunc
}

// NewTargets builds the run's destinations from refs. With staging, new
// layers are streamed to the first registry repository (else the first
// layout) while they are built; without, they are compressed once for
// their digests and the bytes discarded.
func NewTargets(c *client.Client, refs []plan.Ref, staging bool) *Targets {
	t := &Targets{c: c, dests: destinations(c, refs), staging: staging, prior: reuse.New(c)}
	for _, d := range t.dests {
		if rd, ok := d.(*registryDest); ok {
			rd.prior = t.prior
		}
	}
	first := source.StageFunc(source.DigestOnly)
	if staging && len(t.dests) > 0 {
		first = t.dests[0].stage
	}
	t.stage = t.prior.Stage(first)
	return t
}

// Stage streams a new layer to the first destination, or reuses the blob
// a target already holds for it (see reuse.Prior), and returns a layer that
// reads the staged copy.
func (t *Targets) Stage(ctx context.Context, bl *layer.Builder) (v1.Layer, error) {
	return t.stage(ctx, bl)
}

// ReadPrior starts reading, when staging, the image or index that the
// first tag of each registry target repository points at, and the config
// of each of its images, to learn their layers' diffIDs; the read overlaps
// the caller's work until the first layer is staged. A tag that is missing
// or cannot be read only means nothing is reused from it.
func (t *Targets) ReadPrior(ctx context.Context) {
	if !t.staging {
		return
	}
	var refs []name.Reference
	for _, rd := range t.registries() {
		for _, rt := range rd.repos {
			if len(rt.tags) > 0 {
				refs = append(refs, rt.repo.Tag(rt.tags[0]))
			}
		}
	}
	t.prior.Start(func() {
		g, gctx := newGroup(ctx, t.c.Jobs())
		for _, ref := range refs {
			g.Go(func() error {
				t.prior.ReadTag(gctx, ref)
				return nil
			})
		}
		_ = g.Wait() // readTag only records
	})
}

// Peek starts reading, for a join that stages nothing, what the first tag
// of each target repository points at, through the writer the push will
// use. The registry's ping, the push token and the HEAD that tells a
// re-run from a first run (registryDest.writeRepo, headFirst) then overlap
// reading the sources instead of following it: on a real network, three
// round trips fewer one after another. It writes nothing; a read that
// fails only means the push reads again, and reports what it meets there.
func (t *Targets) Peek(ctx context.Context, sources []plan.Ref) {
	if !t.staging {
		return
	}
	// The writer of a registry's first repository pulls from the sources
	// on its registry to mount their blobs; the others mount from the
	// first (registryDest.write). Asked for the same repositories, the
	// push gets the same writer and token.
	var from []name.Repository
	for _, s := range sources {
		if s.Transport == plan.Registry {
			from = append(from, t.c.Repository(s.Repo))
		}
	}
	t.prior.Start(func() {
		// Not errgroup.WithContext: the writers keep the context they were
		// made with, and that one ends when Wait returns.
		var g errgroup.Group
		g.SetLimit(t.c.Jobs())
		for _, rd := range t.registries() {
			for i, rt := range rd.repos {
				mount := from
				if i > 0 {
					mount = []name.Repository{rd.repos[0].repo}
				}
				g.Go(func() error {
					rd.peek(ctx, rt, mount, t.prior)
					return nil
				})
			}
		}
		_ = g.Wait() // peek only records
	})
}

// Reused are the new layers whose blobs a target already held.
func (t *Targets) Reused() []plan.ReusedLayer { return t.prior.List() }

// Warnings name the blobs that failed their proof of reuse.
func (t *Targets) Warnings() []string { return t.prior.Warned() }

func (t *Targets) registries() []*registryDest {
	var out []*registryDest
	for _, d := range t.dests {
		if rd, ok := d.(*registryDest); ok {
			out = append(out, rd)
		}
	}
	return out
}
