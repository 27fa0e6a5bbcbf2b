package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/oci-assemble/oci-assemble/internal/oci/push"
)

// copyReferrers copies the assembly's referrers to t's repository after
// the manifests they refer to: their blobs first, through the same
// writer as the rest of the publish, then each manifest by digest, each
// parent before its own referrers. A registry that indexes a manifest
// with a subject says so (OCI-Subject); for one that does not, the
// referrers are added to the subject's fallback tag index. Cosign-style
// referrers are copied as their tags. mountFrom, when set, is a
// repository of the same registry that holds the blobs already.
//
// A registry that refuses a referrer manifest with 405 (ECR, as seen
// with `oras cp -r`: aws/containers-roadmap#2783) keeps the image publish:
// the referrer and its own referrers are reported in t.skipped.
func (d *registryDest) copyReferrers(ctx context.Context, t *repoTarget, as *assembly.Assembly, mountFrom *name.Repository) error {
	refs := as.FlatReferrers()
	if len(refs) == 0 {
		return nil
	}
	layers, sources, err := referrerBlobs(refs, mountFrom)
	if err != nil {
		return err
	}
	w, err := d.writer(ctx, t.repo, sources...)
	if err != nil {
		return err
	}
	g, gctx := newGroup(ctx, d.c.Jobs())
	for _, l := range layers {
		g.Go(func() error {
			if err := w.WriteBlob(gctx, l); err != nil {
				dg, _ := l.Digest()
				return &plan.RefError{Op: "uploading a referrer's blob to", Ref: t.repo.Digest(dg.String()), Err: err}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	skipped := map[string]bool{}
	fallback := map[string][]v1.Descriptor{} // by subject, in order
	fallbackRefs := map[string][]*source.FoundReferrer{}
	var subjects []string
	for _, r := range refs {
		if skipped[r.Subject] {
			skipped[r.Digest] = true
			t.skip(r, "its subject was not copied")
			continue
		}
		if r.Tag != "" {
			if err := d.copyCosignTag(ctx, w, t, r); err != nil {
				return err
			}
			continue
		}
		ref := t.repo.Digest(r.Digest)
		indexed, err := w.PutReferrer(ctx, ref, r.MediaType, r.Raw)
		switch {
		case plan.StatusOf(err) == http.StatusMethodNotAllowed:
			skipped[r.Digest] = true
			t.skip(r, "the registry refused it (405)")
			continue
		case err != nil:
			return &plan.RefError{Op: "pushing referrer", Ref: ref, Err: err}
		case !indexed:
			if _, ok := fallback[r.Subject]; !ok {
				subjects = append(subjects, r.Subject)
			}
			fallback[r.Subject] = append(fallback[r.Subject], r.Desc)
			fallbackRefs[r.Subject] = append(fallbackRefs[r.Subject], r)
		}
		t.copied.Add(1)
	}
	for _, s := range subjects {
		err := updateFallback(ctx, w, s, fallback[s])
		if errors.Is(err, errFallbackTaken) {
			for _, r := range fallbackRefs[s] {
				t.skip(r, "its subject's fallback tag holds something other than a referrers index, which is kept")
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// referrerBlobs are the blobs of refs, each once, and the repositories
// they can be mounted from.
func referrerBlobs(refs []*source.FoundReferrer, mountFrom *name.Repository) ([]v1.Layer, []name.Repository, error) {
	var layers []v1.Layer
	seen := map[v1.Hash]bool{}
	for _, r := range refs {
		var img v1.Image = r.Img
		if mountFrom != nil {
			img = &mountImage{Image: img, from: *mountFrom}
		}
		ls, err := img.Layers()
		if err != nil {
			return nil, nil, fmt.Errorf("referrer %s: %w", r.Digest, err)
		}
		cl, err := partial.ConfigLayer(img)
		if err != nil {
			return nil, nil, fmt.Errorf("referrer %s: %w", r.Digest, err)
		}
		for _, l := range append(ls, cl) {
			dg, err := l.Digest()
			if err != nil {
				return nil, nil, err
			}
			if !seen[dg] {
				seen[dg] = true
				layers = append(layers, l)
			}
		}
	}
	c := &assembly.Contents{Blobs: layers}
	return layers, c.MountSources(), nil
}

// errFallbackTaken is a fallback tag that holds something other than an
// index: someone else's, which a referrers index must not replace.
var errFallbackTaken = errors.New("the fallback tag holds something other than an index")

// updateFallback adds descs to the referrers tag schema index of subject
// (tag sha256-<hex>), merged with what the tag holds: an entry already
// there is never dropped. Each entry has the artifactType and the
// manifest's annotations the spec asks for (distribution-spec "Referrers
// Tag Schema"; the fallback writer of go-containerregistry omits them:
// sigstore/cosign#4641).
func updateFallback(ctx context.Context, w *push.Writer, subject string, descs []v1.Descriptor) error {
	h, err := v1.NewHash(subject)
	if err != nil {
		return err
	}
	tag := w.Repo().Tag(source.ReferrersTagPrefix + h.Hex)
	im := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	raw, mt, _, err := w.GetManifest(ctx, tag, types.OCIImageIndex)
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &im); err != nil || !mt.IsIndex() || im.SchemaVersion != 2 {
			return fmt.Errorf("%s (%q): %w", tag, mt, errFallbackTaken)
		}
	case plan.StatusOf(err) != http.StatusNotFound:
		return &plan.RefError{Op: "reading referrers index", Ref: tag, Err: err}
	}
	changed := false
	for _, d := range descs {
		if !slices.ContainsFunc(im.Manifests, func(x v1.Descriptor) bool { return x.Digest == d.Digest }) {
			im.Manifests = append(im.Manifests, d)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	out, err := json.Marshal(im)
	if err != nil {
		return err
	}
	if err := w.PutManifest(ctx, tag, types.OCIImageIndex, out); err != nil {
		return &plan.RefError{Op: "pushing referrers index", Ref: tag, Err: err}
	}
	return nil
}

// copyCosignTag copies a cosign-style referrer as its tag. A target whose
// tag already holds another manifest is never replaced by it: cosign
// appends signatures to that tag, and replacing it would drop signatures
// made on the target (joinCosignTag).
func (d *registryDest) copyCosignTag(ctx context.Context, w *push.Writer, t *repoTarget, r *source.FoundReferrer) error {
	tag := t.repo.Tag(r.Tag)
	got, err := w.Head(ctx, tag)
	switch {
	case err == nil && got.String() == r.Digest:
		t.copied.Add(1)
		return nil
	case err == nil:
		return d.joinCosignTag(ctx, w, t, r, tag)
	case plan.StatusOf(err) != http.StatusNotFound:
		return &plan.RefError{Op: "reading", Ref: tag, Err: err}
	}
	return t.tagged(r, tag, w.PutManifest(ctx, tag, r.MediaType, r.Raw))
}

// tagged records the outcome of writing r to tag: copied, or skipped when
// the registry refuses referrer manifests (405, as ECR did:
// aws/containers-roadmap#2783); any other error fails the publish.
func (t *repoTarget) tagged(r *source.FoundReferrer, tag name.Reference, err error) error {
	switch {
	case plan.StatusOf(err) == http.StatusMethodNotAllowed:
		t.skip(r, "the registry refused it (405)")
		return nil
	case err != nil:
		return &plan.RefError{Op: "pushing referrer", Ref: tag, Err: err}
	}
	t.copied.Add(1)
	return nil
}

// skip records a referrer that was not copied to t, with why.
func (t *repoTarget) skip(r *source.FoundReferrer, why string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.skipped = append(t.skipped, r.Label()+": "+why)
}

// skippedReferrers is what was not copied to t, for its Target.
func (t *repoTarget) skippedReferrers() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.skipped)
}
