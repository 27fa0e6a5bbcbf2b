package cleanup

import (
	"context"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// publishedTag is a tag this run published, as read before cleanup.
type publishedTag struct {
	tag  name.Tag
	desc *remote.Descriptor
}

// readPublished reads the published tags in the repositories cleanup is
// about to delete from, keeping those that point at a protected digest:
// the manifest bytes a registry may take with another tag's DELETE, and
// that restorePublished puts back.
func (d *Deleter) readPublished(ctx context.Context, published []name.Tag, targets []target, protected map[v1.Hash]bool) []publishedTag {
	if d.o.dryRun {
		return nil
	}
	repos := map[string]bool{}
	for _, t := range targets {
		repos[d.o.insecure.Tag(t.tag).Context().Name()] = true
	}
	var out []publishedTag
	for _, t := range published {
		t = d.o.insecure.Tag(t)
		if !repos[t.Context().Name()] {
			continue
		}
		desc, err := remote.Get(t, d.remoteOptions(ctx)...)
		if err != nil {
			d.o.logger.Warn("could not read a published tag before the cleanup; it is not checked after it", "ref", t.String(), "err", err)
			continue
		}
		if protected[desc.Digest] {
			out = append(out, publishedTag{tag: t, desc: desc})
		}
	}
	return out
}

// restorePublished checks, after the deletes, that every published tag
// still points at what it pointed at, and puts a missing one back. A
// registry whose tag DELETE deletes the manifest and every tag on it
// (Harbor before 2.0: goharbor/harbor#2663, #6994) takes the published
// tags that share a manifest with a temp tag; restoring the manifest by
// digest (ensureSurvived) does not bring those tags back. A tag that now
// points elsewhere was moved by someone else and is left alone. It
// returns the tags put back.
func (d *Deleter) restorePublished(ctx context.Context, tags []publishedTag) []string {
	var restored []string
	for _, p := range tags {
		now, err := d.digestOf(ctx, p.tag)
		switch {
		case err == nil && now == p.desc.Digest:
			continue
		case err == nil:
			d.o.logger.Warn("a published tag was moved by someone else during the cleanup; left as it is",
				"ref", p.tag.String(), "published", p.desc.Digest.String(), "now", now.String())
			continue
		case statusOf(err) != http.StatusNotFound:
			d.o.logger.Error("could not check a published tag after the cleanup; check it and re-run the publish step if it is missing",
				"ref", p.tag.String(), "err", err)
			continue
		}
		d.o.logger.Warn("the registry deleted a published tag with a temp tag; putting it back", "ref", p.tag.String())
		w, err := d.pusher.Writer(ctx, p.tag.Context())
		if err == nil {
			err = w.PutManifest(ctx, p.tag, p.desc.MediaType, p.desc.Manifest)
		}
		if err != nil {
			d.o.logger.Error("restoring a published tag failed; re-run the publish step", "ref", p.tag.String(), "err", err)
			continue
		}
		restored = append(restored, p.tag.String())
	}
	return restored
}
