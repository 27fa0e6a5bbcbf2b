package publish

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/publish/reuse"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	"github.com/oci-assemble/oci-assemble/internal/oci/push"
)

// registryDest is the target repositories of one registry. The first
// repository gets every blob; the others mount them from it, so each
// blob is uploaded once per registry.
type registryDest struct {
	c *client.Client
	// prior answers the first tag's HEAD from the read before building.
	prior *reuse.Prior
	host  string
	repos []*repoTarget
	// sole: this is the only repository of the publish; see destinations.
	sole bool
}

// repoTarget is one target repository and its tags.
type repoTarget struct {
	repo name.Repository
	tags []string
	// present is set when the first tag already pointed at the index (a
	// re-run): then the other tags are read before they are written, and
	// a tag that already points at it is left alone.
	present bool

	mu   sync.Mutex
	read map[string]bool // references already read back as the index

	copied  atomic.Int64 // referrers copied (referrers_copy.go)
	skipped []string     // referrers not copied, and why
}

var _ destination = (*registryDest)(nil)

func (d *registryDest) add(t plan.Ref) {
	i := slices.IndexFunc(d.repos, func(r *repoTarget) bool { return r.repo.String() == t.Repo.String() })
	if i < 0 {
		d.repos = append(d.repos, &repoTarget{repo: t.Repo})
		i = len(d.repos) - 1
	}
	d.repos[i].tags = addTag(d.repos[i].tags, t.Tag)
}

func (t *repoTarget) markRead(ref name.Reference) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.read == nil {
		t.read = map[string]bool{}
	}
	t.read[ref.String()] = true
}

func (t *repoTarget) wasRead(ref name.Reference) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.read[ref.String()]
}

// checked are the references that tell whether t holds the index: its
// tags, or the digest when it has none.
func (t *repoTarget) checked(digest v1.Hash) []name.Reference {
	if len(t.tags) == 0 {
		return []name.Reference{t.repo.Digest(digest.String())}
	}
	out := make([]name.Reference, len(t.tags))
	for i, tag := range t.tags {
		out[i] = t.repo.Tag(tag)
	}
	return out
}

// writer is the repository's writer from the client's Pusher.
func (d *registryDest) writer(ctx context.Context, repo name.Repository, mountFrom ...name.Repository) (*push.Writer, error) {
	w, err := d.c.Pusher().Writer(ctx, repo, mountFrom...)
	if err != nil {
		return nil, &plan.RefError{Op: "authenticating to", Ref: plan.RepoRef{Repository: repo}, Err: err}
	}
	return w, nil
}

// stage streams the layer to the first repository. A layer built from
// files is streamed again on every read, so a failed upload is sent
// again from the files, without a copy kept on disk.
func (d *registryDest) stage(ctx context.Context, bl *layer.Builder) (v1.Layer, error) {
	repo := d.repos[0].repo
	w, err := d.writer(ctx, repo)
	if err != nil {
		return nil, err
	}
	l, err := bl.Layer()
	if err != nil {
		return nil, err
	}
	if err := w.Upload(ctx, l); err != nil {
		return nil, &plan.RefError{Op: "uploading a layer to", Ref: plan.RepoRef{Repository: repo}, Err: err}
	}
	return stagedLayer(ctx, d.c, l, repo)
}

// write pushes to the first repository, then to the others, which mount
// the blobs from it.
func (d *registryDest) write(ctx context.Context, as *assembly.Assembly) error {
	first := d.repos[0].repo
	if err := d.writeRepo(ctx, d.repos[0], as, as.Index); err != nil {
		return err
	}
	if err := d.copyReferrers(ctx, d.repos[0], as, nil); err != nil {
		return err
	}
	mounted := &mountIndex{imageIndex: as.Index, from: first}
	g, gctx := newGroup(ctx, d.c.Jobs())
	for _, t := range d.repos[1:] {
		g.Go(func() error {
			if err := d.writeRepo(gctx, t, as, mounted); err != nil {
				return err
			}
			return d.copyReferrers(gctx, t, as, &first)
		})
	}
	return g.Wait()
}

// writeRepo reads the repository's first tag (the digest when it has no
// tags): when that already points at the index, the repository holds the
// index and everything in it. Otherwise it writes the blobs and
// manifests below the index, then the index by digest.
func (d *registryDest) writeRepo(ctx context.Context, t *repoTarget, as *assembly.Assembly, idx v1.ImageIndex) error {
	c, err := assembly.ContentsOf(idx)
	if err != nil {
		return err
	}
	w, err := d.writer(ctx, t.repo, c.MountSources()...)
	if err != nil {
		return err
	}
	first := t.checked(as.Digest)[0]
	got, err := d.prior.HeadFirst(ctx, w, first)
	switch {
	case err == nil && got == as.Digest:
		t.present = true
		t.markRead(first)
		d.c.Logger().Info("already there", "ref", first.String())
		w.CountHeld(c.BlobBytes())
		return nil
	case err != nil && plan.StatusOf(err) != http.StatusNotFound:
		// Pushing will tell whether this matters.
		d.c.Logger().Debug("reading a tag before pushing failed", "ref", first.String(), "error", err)
	}
	if err := pushChildren(ctx, d.c, w, c); err != nil {
		return err
	}
	if d.sole {
		return nil
	}
	ref := t.repo.Digest(as.Digest.String())
	if err := w.Put(ctx, ref, idx); err != nil {
		return &plan.RefError{Op: "pushing", Ref: ref, Err: explainRefusal(err, as.MediaType)}
	}
	d.c.Logger().Info("pushed by digest", "ref", ref.String())
	return nil
}

func (d *registryDest) tagJobs(as *assembly.Assembly) []tagJob {
	var jobs []tagJob
	for _, t := range d.repos {
		for _, tag := range t.tags {
			ref := t.repo.Tag(tag)
			jobs = append(jobs, tagJob{ref.String(), func(ctx context.Context) error {
				return d.tag(ctx, t, ref, as)
			}})
		}
	}
	return jobs
}

func (d *registryDest) tag(ctx context.Context, t *repoTarget, ref name.Tag, as *assembly.Assembly) error {
	if t.wasRead(ref) {
		return nil // read before pushing: already right
	}
	w, err := d.writer(ctx, t.repo)
	if err != nil {
		return err
	}
	if t.present {
		// A re-run: a tag already at the digest is never written again
		// (registries with immutable tags refuse that write).
		if got, err := w.Head(ctx, ref); err == nil && got == as.Digest {
			t.markRead(ref)
			return nil
		}
	}
	if err := w.Put(ctx, ref, as.Index); err != nil {
		if got, herr := w.Head(ctx, ref); herr == nil && got == as.Digest {
			// ECR refuses to write a tag again even at the digest it
			// points at (moby/buildkit#2004): it is where it should be.
			t.markRead(ref)
			return nil
		}
		return &plan.RefError{Op: "tagging", Ref: ref, Err: explainRefusal(err, as.MediaType)}
	}
	return nil
}

// verify reads every tag back (the digest, for a repository without
// tags): a tag that reads back as the index's digest proves the index is
// there by digest too.
func (d *registryDest) verify(ctx context.Context, as *assembly.Assembly) error {
	type check struct {
		t   *repoTarget
		ref name.Reference
	}
	var checks []check
	for _, t := range d.repos {
		for _, ref := range t.checked(as.Digest) {
			if !t.wasRead(ref) {
				checks = append(checks, check{t, ref})
			}
		}
	}
	errs := make([]error, len(checks))
	g, _ := newGroup(ctx, d.c.Jobs())
	for i, c := range checks {
		g.Go(func() error {
			errs[i] = d.verifyRef(ctx, c.t, c.ref, as.Digest)
			return nil
		})
	}
	_ = g.Wait() // every check reports through errs
	return errors.Join(errs...)
}

func (d *registryDest) verifyRef(ctx context.Context, t *repoTarget, ref name.Reference, want v1.Hash) error {
	w, err := d.writer(ctx, t.repo)
	if err != nil {
		return err
	}
	got, err := w.Head(ctx, ref)
	switch {
	case err != nil:
		return &plan.RefError{Op: "reading back", Ref: ref, Err: err}
	case got != want:
		return fmt.Errorf("%w: %s reads back as %s, want %s", ErrVerify, ref, got, want)
	}
	return nil
}

func (d *registryDest) targets(as *assembly.Assembly) []Target {
	out := make([]Target, len(d.repos))
	for i, t := range d.repos {
		st := d.c.Pusher().Stats(t.repo)
		out[i] = Target{Ref: t.repo.String(), Tags: t.tags, Image: t.repo.String() + "@" + as.Digest.String(),
			Referrers: int(t.copied.Load()), SkippedReferrers: t.skippedReferrers(),
			BytesUploaded: st.Uploaded, BytesMounted: st.Mounted, BytesReused: st.Reused}
	}
	return out
}
