package cleanup

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Request is one cleanup after a publish: the tags asked for (the sources'
// tags and the delete-tags entries) and what this run published, which
// must survive it.
type Request struct {
	// Sources are the run's source images when delete-source-tags asks for
	// their tags to go; nil otherwise.
	Sources []Source
	// Patterns are the delete-tags entries, literal tags or tag globs (see
	// Expand).
	Patterns []string
	// Published are the registry tags this run published. They are never
	// deleted, even when a pattern matches them.
	Published []name.Tag
	// Protected are the digests this run published, the index and every
	// manifest in it: never deleted by digest, whatever a tag points at.
	Protected []v1.Hash
}

// Source is one source image of the run, as delete-source-tags sees it.
type Source struct {
	// Ref is the reference as the user wrote it, for messages.
	Ref string
	// Local marks a file or OCI layout: it has no registry tag, and only
	// registry tags are deleted.
	Local bool
	// Repo and Tag name the registry tag the source was read by. Tag is ""
	// for a source read by digest alone, which has no tag to delete.
	Repo name.Repository
	Tag  string
	// Digest is what Tag pointed at when the run read the source. The tag
	// is deleted only while it still points there: a concurrent run that
	// pushed the same tag since keeps its input. Zero when not known;
	// the tag is then checked against what cleanup itself reads.
	Digest v1.Hash
}

// Clean deletes what req asks for: the sources' tags, then the delete-tags
// entries expanded (see Expand), each tag once however it is spelled
// (docker.io and index.docker.io are one registry), minus the tags this
// run published, which are kept with a reason; a published tag the
// registry deleted along with a temp tag is put back (Result.Restored).
// Like Delete it never fails
// the run: every tag ends up in the Result. The error, when not nil, is
// Expand's (it wraps ErrInvalidPattern); the tags of the sources are still
// cleaned up.
func (d *Deleter) Clean(ctx context.Context, req Request) (Result, error) {
	var (
		exp expansion
		err error
	)
	if len(req.Patterns) > 0 {
		exp, err = d.expand(ctx, req.Patterns)
	}
	targets, kept := req.pick(exp.tags, exp.kept)
	protected := make(map[v1.Hash]bool, len(req.Protected))
	for _, h := range req.Protected {
		protected[h] = true
	}
	before := d.readPublished(ctx, req.Published, targets, protected)
	res := d.deleteTargets(ctx, targets, protected)
	if len(res.Deleted) > 0 {
		res.Restored = d.restorePublished(ctx, before)
	}
	res.Kept = append(kept, res.Kept...)
	res.Unmatched = exp.unmatched
	return res, err
}

// pick chooses the tags to delete from the sources' tags and the expanded
// delete-tags entries, in that order, and returns them with what is kept
// before any registry is asked: local sources, expandKept (digest entries
// and unlistable repositories) and published tags, in the order met.
func (req Request) pick(expanded []name.Tag, expandKept []Kept) ([]target, []Kept) {
	published := make(map[string]bool, len(req.Published))
	for _, t := range req.Published {
		published[tagKey(t)] = true
	}
	var (
		tags []target
		kept []Kept
		seen = map[string]bool{}
	)
	add := func(t name.Tag, read v1.Hash) {
		switch k := tagKey(t); {
		case seen[k]:
		case published[k]:
			seen[k] = true
			kept = append(kept, Kept{Ref: t.String(), Reason: "this run published it", Fix: "remove it from delete-tags or tags"})
		default:
			seen[k] = true
			tags = append(tags, target{tag: t, read: read})
		}
	}
	for _, s := range req.Sources {
		switch {
		case s.Local:
			kept = append(kept, Kept{Ref: s.Ref, Reason: "only registry tags are deleted", Fix: "remove the file or layout yourself"})
		case s.Tag != "":
			add(s.Repo.Tag(s.Tag), s.Digest)
		}
	}
	kept = append(kept, expandKept...)
	for _, t := range expanded {
		add(t, v1.Hash{})
	}
	return tags, kept
}

// tagKey identifies a tag across spellings: ggcr resolves docker.io and
// index.docker.io to one RegistryStr.
func tagKey(t name.Tag) string {
	return t.RegistryStr() + "/" + t.RepositoryStr() + ":" + t.TagStr()
}
