package reuse

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"
	"golang.org/x/sync/errgroup"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	"github.com/oci-assemble/oci-assemble/internal/oci/push"
)

// priorLayer is a layer of an image a target held before this run.
type priorLayer struct {
	desc v1.Descriptor
	repo name.Repository
}

// Prior finds the layers the targets already hold by diffID and records
// which it reused. It is stateless across runs: what it knows it read
// from the targets at the start of this one.
type Prior struct {
	c *client.Client
	// ready is closed once byDiff is read; nil when nothing is read.
	ready  chan struct{}
	byDiff map[v1.Hash][]priorLayer

	mu     sync.Mutex
	reused []plan.ReusedLayer
	// proofs are the blobs checked before reuse (prove).
	proofs map[proofKey]*proof
	// warnings name the blobs that failed their proof, once each.
	warnings []string
	// tags is what each tag read pointed at: a digest, or a 404 error.
	tags map[string]priorTag
}

// priorTag is what a target tag pointed at when it was read before
// building.
type priorTag struct {
	digest v1.Hash
	err    error
}

// New is a Prior that knows nothing yet: Targets.ReadPrior or
// Targets.Peek start its read (start).
func New(c *client.Client) *Prior {
	return &Prior{c: c, byDiff: map[v1.Hash][]priorLayer{}, tags: map[string]priorTag{}}
}

// Start runs read in the background; wait returns once it is done.
func (r *Prior) Start(read func()) {
	r.ready = make(chan struct{})
	go func() {
		defer close(r.ready)
		read()
	}()
}

func (r *Prior) wait() {
	if r.ready != nil {
		<-r.ready
	}
}

func (r *Prior) ReadTag(ctx context.Context, ref name.Reference) {
	desc, err := r.c.Puller().Get(ctx, ref)
	var d v1.Hash
	if err == nil {
		d = desc.Digest
	}
	r.RecordTag(ref, d, err)
	if err != nil {
		if plan.StatusOf(err) != http.StatusNotFound {
			r.c.Logger().Debug("reading a target before building failed; nothing is reused from it", "ref", ref.String(), "error", err)
		}
		return
	}
	var imgs []v1.Image
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return
		}
		for _, d := range im.Manifests {
			if !d.MediaType.IsImage() || d.Annotations[source.RefTypeAnnotation] == source.AttestationManifest {
				continue
			}
			if len(imgs) == maxPriorImages {
				break
			}
			if img, err := idx.Image(d.Digest); err == nil {
				imgs = append(imgs, img)
			}
		}
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return
		}
		imgs = append(imgs, img)
	}
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(r.c.Jobs())
	for _, img := range imgs {
		g.Go(func() error {
			r.addImage(ref.Context(), img)
			return nil
		})
	}
	_ = g.Wait()
}

// maxPriorImages bounds the images of a target's previous index that are
// read; an index of every platform Go builds for has fewer than 64. Reuse
// only saves work, so what passes it is not read (nothing is reused from
// it).
const maxPriorImages = 128

// addImage records img's layers by diffID.
func (r *Prior) addImage(repo name.Repository, img v1.Image) {
	m, err := img.Manifest()
	// The config is read whole, within maxConfigSize, and verified
	// against the manifest's size and digest.
	if err != nil || m.Config.Size < 0 || m.Config.Size > source.MaxConfigSize {
		return
	}
	cf, err := img.ConfigFile()
	if err != nil || len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, d := range m.Layers {
		r.byDiff[cf.RootFS.DiffIDs[i]] = append(r.byDiff[cf.RootFS.DiffIDs[i]], priorLayer{desc: d, repo: repo})
	}
}

// Stage wraps stage: a layer whose diffID a target already holds, in the
// compression asked for, is that blob once it is proven to be the layer
// (prove); any other is staged.
func (r *Prior) Stage(stage source.StageFunc) source.StageFunc {
	return func(ctx context.Context, bl *layer.Builder) (v1.Layer, error) {
		r.wait()
		r.mu.Lock()
		empty := len(r.byDiff) == 0
		r.mu.Unlock()
		if empty {
			return stage(ctx, bl)
		}
		diffID, size, err := bl.HashTar()
		if err != nil {
			return nil, err
		}
		if l, ok := r.find(ctx, diffID, size, bl); ok {
			return l, nil
		}
		return stage(ctx, bl)
	}
}

// candidates are the blobs, each once, that the targets hold for diffID
// in compression c; at most maxReuseTries.
func (r *Prior) candidates(diffID v1.Hash, c layer.Compression) []priorLayer {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []priorLayer
	for _, p := range r.byDiff[diffID] {
		if layer.CompressionOf(p.desc.MediaType) != c || slices.ContainsFunc(out, func(q priorLayer) bool { return q.desc.Digest == p.desc.Digest }) {
			continue
		}
		if out = append(out, p); len(out) == maxReuseTries {
			break
		}
	}
	return out
}

func (r *Prior) find(ctx context.Context, diffID v1.Hash, tarSize int64, bl *layer.Builder) (v1.Layer, bool) {
	for _, p := range r.candidates(diffID, bl.Compression()) {
		err := r.prove(ctx, p, bl.Compression(), diffID, tarSize)
		if err != nil && ctx.Err() == nil {
			// Not only a blob that is not the layer: one the registry
			// serves with bytes other than its digest's fails in the
			// client's own check, and a blob that cannot be read at all
			// costs an upload the user should hear of.
			r.warn(fmt.Sprintf("not reusing %s from %q as layer %s: %v; the layer is uploaded anew", p.desc.Digest, p.repo.String(), diffID, err))
		}
		if err != nil {
			r.c.Logger().Debug("a layer the target holds is not reused", "diffID", diffID.String(), "digest", p.desc.Digest.String(),
				"from", p.repo.String(), "error", err)
			continue
		}
		return r.reuse(ctx, p, diffID, bl)
	}
	return nil, false
}

// reuse describes p's blob, proven to be the layer diffID names, as a
// layer to publish: read from where it is, mounted where it is not.
func (r *Prior) reuse(ctx context.Context, p priorLayer, diffID v1.Hash, bl *layer.Builder) (v1.Layer, bool) {
	l, err := r.c.HeldLayer(ctx, p.repo, layer.Info{Digest: p.desc.Digest, DiffID: diffID, Size: p.desc.Size, MediaType: bl.MediaType()})
	if err != nil {
		return nil, false
	}
	r.mu.Lock()
	r.reused = append(r.reused, plan.ReusedLayer{DiffID: diffID.String(), Digest: p.desc.Digest.String(), From: p.repo.String()})
	r.mu.Unlock()
	r.c.Logger().Info("layer reused", "diffID", diffID.String(), "digest", p.desc.Digest.String(), "from", p.repo.String())
	return l, true
}

// warn records a warning for the user, once.
func (r *Prior) warn(w string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.warnings, w) {
		r.warnings = append(r.warnings, w)
	}
}

// Warned is what the user should be told.
func (r *Prior) Warned() []string {
	r.wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.warnings)
}

// RecordTag records what ref pointed at when it was read: digest, or a
// 404 (the tag is missing). Another error records nothing, so the push
// reads the tag again and reports what it meets.
func (r *Prior) RecordTag(ref name.Reference, digest v1.Hash, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil:
		r.tags[ref.String()] = priorTag{digest: digest}
	case plan.StatusOf(err) == http.StatusNotFound:
		r.tags[ref.String()] = priorTag{err: err}
	}
}

// HeadFirst is w.Head(ctx, ref), answered from the read before building
// when ref was read then: the tag's HEAD before writing (which makes a
// re-run write nothing) is then not sent again. A tag moved in between
// only costs writing what is already there.
func (r *Prior) HeadFirst(ctx context.Context, w *push.Writer, ref name.Reference) (v1.Hash, error) {
	r.wait()
	r.mu.Lock()
	p, ok := r.tags[ref.String()]
	r.mu.Unlock()
	if ok {
		return p.digest, p.err
	}
	return w.Head(ctx, ref)
}

// List is the reused layers, each once, by digest.
func (r *Prior) List() []plan.ReusedLayer {
	r.wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.reused)
	slices.SortFunc(out, func(a, b plan.ReusedLayer) int { return cmp.Compare(a.Digest, b.Digest) })
	return slices.CompactFunc(out, func(a, b plan.ReusedLayer) bool { return a.Digest == b.Digest })
}
