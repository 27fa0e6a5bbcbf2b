package source

import (
	"context"
	"fmt"

	"github.com/oci-assemble/oci-assemble/internal/oci/plan"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
)

// Source is one source a run reads: what it resolves to, and the
// signatures, SBOMs and attestations that refer to an image in it.
type Source interface {
	// Ref is the reference the source was opened with.
	Ref() plan.Ref
	// Read resolves the source into a v1.Image or v1.ImageIndex.
	Read(ctx context.Context) (Taggable, error)
	// Referrers are the referrers of the image d in the source, with
	// their own, parent first.
	Referrers(ctx context.Context, d v1.Hash) ([]*FoundReferrer, error)
}

// OpenRegistry returns the reader of r in a registry; f finds referrers,
// one finder for the run's sources.
func OpenRegistry(c *client.Client, r plan.Ref, f *ReferrerFinder) Source {
	r.Repo = c.Repository(r.Repo)
	return registrySource{c: c, r: r, f: f}
}

// registrySource reads through the client, lazily: layers are fetched
// when they are used, and copied by mount where they can be.
type registrySource struct {
	c *client.Client
	r plan.Ref
	f *ReferrerFinder
}

func (s registrySource) Ref() plan.Ref { return s.r }

func (s registrySource) Read(ctx context.Context) (Taggable, error) {
	ref := s.r.Reference()
	if ref == nil {
		return nil, fmt.Errorf("%w %s: a source needs a tag or digest", plan.ErrSource, s.r)
	}
	desc, err := s.c.Puller().Get(ctx, ref)
	if err != nil {
		return nil, &plan.RefError{Op: "reading", Ref: ref, Err: err}
	}
	if desc.MediaType.IsIndex() {
		return desc.ImageIndex()
	}
	if desc.MediaType.IsSchema1() {
		return nil, fmt.Errorf("%w %s: docker schema 1 manifests are not supported; push it again with a current client", plan.ErrSource, s.r)
	}
	if err := CheckManifestSize(ref.String(), desc.Manifest); err != nil {
		return nil, fmt.Errorf("%w %s: %w", plan.ErrSource, s.r, err)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, err
	}
	ci, err := NewCachedConfigImage(img, ref.Context())
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", plan.ErrSource, s.r, err)
	}
	return ci, nil
}

func (s registrySource) Referrers(ctx context.Context, d v1.Hash) ([]*FoundReferrer, error) {
	refs, err := s.f.find(ctx, s.r.Repo, d, 0, map[v1.Hash]bool{d: true})
	if err != nil {
		return nil, ReferrersError(s.r.Repo.String(), d, err)
	}
	return refs, nil
}

func ReferrersError(where string, d v1.Hash, err error) error {
	return fmt.Errorf("finding the signatures, SBOMs and attestations of %s@%s (set referrers: false to publish without them): %w", where, d, err)
}
