package layout

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Resolve finds the image or index src names in an OCI layout:
// by tag (ref.name), by digest, or the one entry of index.json that is
// not part of another. What it reads is bounded and verified (Dir,
// walk).
func Resolve(ctx context.Context, src plan.Ref) (source.Taggable, error) {
	if _, err := os.Stat(src.Path); err != nil {
		return nil, fmt.Errorf("%w %s: %v", plan.ErrSource, src, err)
	}
	l := Dir{Path: src.Path}
	root, err := l.RootIndex()
	if err != nil {
		return nil, fmt.Errorf("%w %s: reading index.json: %w", plan.ErrSource, src, err)
	}
	im := root.Manifest
	w := source.NewWalk(ctx, src.String())
	if err := w.Index(0, len(im.Manifests)); err != nil {
		return nil, fmt.Errorf("%w %s: %w", plan.ErrSource, src, err)
	}
	var parts map[v1.Hash]bool
	if src.Tag == "" && src.Digest == "" {
		if parts, err = partsOfLayout(w, root); err != nil {
			return nil, fmt.Errorf("%w %s: %w", plan.ErrSource, src, err)
		}
	}
	var found []v1.Descriptor
	for _, d := range im.Manifests {
		refName := d.Annotations[specs.AnnotationRefName]
		switch {
		case src.Digest != "":
			if d.Digest.String() == src.Digest {
				found = append(found, d)
			}
		case src.Tag != "":
			// ref.name is a tag (skopeo, umoci) or a full reference (ggcr's
			// crane, buildkit's containerd exporter); accept both.
			if refName == src.Tag || strings.HasSuffix(refName, ":"+src.Tag) {
				found = append(found, d)
			}
		case !parts[d.Digest]:
			found = append(found, d)
		}
	}
	switch {
	case len(found) == 0 && src.Tag != "":
		return nil, &plan.SourceError{Src: src, Kind: plan.ErrNotFound, Msg: fmt.Sprintf("no image tagged %s in the layout; it holds %s", plan.QuoteText(src.Tag), layoutEntries(im.Manifests))}
	case len(found) == 0 && src.Digest != "":
		return nil, &plan.SourceError{Src: src, Kind: plan.ErrNotFound, Msg: fmt.Sprintf("no image %s in the layout's index.json; it holds %s", src.Digest, layoutEntries(im.Manifests))}
	case len(found) == 0:
		return nil, &plan.SourceError{Src: src, Kind: plan.ErrNotFound, Msg: "the layout holds no image, only " + layoutEntries(im.Manifests)}
	case len(found) > 1:
		return nil, &plan.SourceError{Src: src, Kind: plan.ErrAmbiguous, Msg: fmt.Sprintf("the layout holds %d images; name one as oci:PATH:TAG or oci:PATH@DIGEST: %s", len(found), layoutEntries(found))}
	}
	d := found[0]
	var t source.Taggable
	switch {
	case d.MediaType.IsIndex():
		t, err = l.index(d)
	case d.MediaType.IsImage():
		t, err = l.image(d)
	default:
		return nil, fmt.Errorf("%w %s: %s has media type %q, neither an image nor an index", plan.ErrSource, src, d.Digest, d.MediaType)
	}
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", plan.ErrSource, src, err)
	}
	return t, nil
}

// partsOfLayout are the entries of a layout's index.json that belong to
// another entry rather than standing alone: referrers (a descriptor with
// an artifactType, or a cosign tag) and the children of an index that is
// itself listed, as writeReferrers and `oras attach --oci-layout` leave
// them. A source that names no tag or digest means the one image or
// index that remains. Each listed index is read once, within w's bounds.
func partsOfLayout(w *source.Walk, root *Index) (map[v1.Hash]bool, error) {
	parts := map[v1.Hash]bool{}
	for _, d := range root.Manifest.Manifests {
		name := d.Annotations[specs.AnnotationRefName]
		if isArtifact(d) || strings.HasPrefix(name, source.ReferrersTagPrefix) && slices.ContainsFunc(source.CosignSuffixes, func(sfx string) bool { return strings.HasSuffix(name, sfx) }) {
			parts[d.Digest] = true
		}
		if !d.MediaType.IsIndex() || !w.Enter(d.Digest) {
			continue
		}
		child, err := root.l.index(d)
		if err != nil {
			continue // reported when the entry is read
		}
		if err := w.Index(1, len(child.Manifest.Manifests)); err != nil {
			return nil, err
		}
		for _, c := range child.Manifest.Manifests {
			parts[c.Digest] = true
		}
	}
	return parts, nil
}

// isArtifact reports whether a descriptor of a layout's index.json names
// an artifact (a signature, an SBOM) rather than an image: its
// artifactType is set and is not an image config's media type.
// go-containerregistry's layout package and crane set artifactType to the
// config's media type on every image they write, which makes the entry
// no less an image.
// https://github.com/opencontainers/image-spec/blob/v1.1.1/descriptor.md#properties
func isArtifact(d v1.Descriptor) bool {
	switch types.MediaType(d.ArtifactType) {
	case "", types.OCIConfigJSON, types.DockerConfigJSON:
		return false
	}
	return true
}

// maxListed bounds how many entries a message about a layout lists.
const maxListed = 10

// layoutEntries lists entries of a layout's index.json for a message: by
// tag (ref.name) where they have one, else by digest, each tag quoted and
// bounded (a layout's text is data), at most maxListed of them.
func layoutEntries(ds []v1.Descriptor) string {
	if len(ds) == 0 {
		return "no entries"
	}
	var out []string
	for i, d := range ds {
		if i == maxListed {
			out = append(out, fmt.Sprintf("and %d more", len(ds)-maxListed))
			break
		}
		e := d.Digest.String()
		if n := d.Annotations[specs.AnnotationRefName]; n != "" {
			e = "tag " + plan.QuoteText(n)
		}
		if isArtifact(d) {
			e += " (artifact " + plan.QuoteText(d.ArtifactType) + ")"
		}
		out = append(out, e)
	}
	return strings.Join(out, ", ")
}

// layoutSource reads an OCI layout on disk, bounded and verified.
type layoutSource struct{ r plan.Ref }

func (s layoutSource) Ref() plan.Ref { return s.r }

func (s layoutSource) Read(ctx context.Context) (source.Taggable, error) {
	return Resolve(ctx, s.r)
}

func (s layoutSource) Referrers(ctx context.Context, d v1.Hash) ([]*source.FoundReferrer, error) {
	refs, err := layoutReferrers(ctx, s.r.Path, d)
	if err != nil {
		return nil, source.ReferrersError(s.r.String(), d, err)
	}
	return refs, nil
}

// Open returns the reader of r.
func Open(r plan.Ref) source.Source { return layoutSource{r: r} }
