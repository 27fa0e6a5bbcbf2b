package assembly

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/oci-assemble/oci-assemble/internal/oci/convert"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	"github.com/oci-assemble/oci-assemble/internal/platform"
)

// ErrConflict is returned when two sources give different manifests for
// one platform.
var ErrConflict = errors.New("conflicting platforms")

// Manifest describes one platform manifest of the assembled index.
type Manifest struct {
	Platform string `json:"platform"`
	Digest   string `json:"digest"`
	Size     int64  `json:"size"`
	// ImageSize is the config's and the layers' size: what a pull of
	// this platform downloads.
	ImageSize int64           `json:"imageSize"`
	MediaType types.MediaType `json:"mediaType"`
	// Source is the reference the manifest came from.
	Source string `json:"source"`
	// Attestations counts attestation manifests that travel with it.
	Attestations int `json:"attestations,omitempty"`
	// Referrers are the signatures, SBOMs and attestations (OCI 1.1
	// referrers and cosign tags) copied with it, nested ones included.
	Referrers []source.Referrer `json:"referrers"`
}

// Assembly is an index ready to publish.
type Assembly struct {
	Index     v1.ImageIndex
	Digest    v1.Hash
	Size      int64
	MediaType types.MediaType
	Manifests []Manifest
	// IndexDescriptorAnnotations go on the index's descriptor where one is
	// written: the index.json of an oci: layout target.
	IndexDescriptorAnnotations map[string]string
	// Sources are the references the index was joined from, in input order.
	Sources []plan.Ref
	// SourceDigests are the digests the Sources resolved to when they
	// were read, by index (none for a build): a later step that acts on a
	// source's tag, such as deleting it, can check that the tag still
	// points there, and provenance names the sources by them.
	SourceDigests []v1.Hash
	// Warnings are what the caller should tell the user: referrers that
	// could not follow a rewritten manifest.
	Warnings []string
	// Targets are where the assembly goes: its new layers were staged
	// through them, and publishing finishes them (the engine's Targets).
	Targets Stager
	// Referrers are the platform images' referrers, with their own.
	Referrers []*source.FoundReferrer
	// Reused are the new layers whose blobs a target already held, so they
	// were neither compressed nor uploaded (see Plan.Stage).
	Reused []plan.ReusedLayer
	// IndexReferrers are the referrers made for the index itself: its
	// signatures and attestations (Attach).
	IndexReferrers []source.Referrer
	// Built are, in layer mode, the new layers of Manifests[i], in order;
	// nil for a join. What an SBOM of the image lists comes from them.
	Built [][]*layer.Builder
	// Base is, in layer mode, the digest the base resolved to (zero for
	// scratch).
	Base v1.Hash
}

// Member is one platform image of the index, with the attestation
// manifests that describe it.
type Member struct {
	source       plan.Ref
	platform     v1.Platform
	img          v1.Image
	digest       v1.Hash
	annotations  map[string]string // descriptor annotations
	attestations []attestation
	referrers    []*source.FoundReferrer
	// built are a layer-mode image's new layers.
	built []*layer.Builder
}

type attestation struct {
	img  v1.Image
	desc v1.Descriptor
}

// AssembleIndex applies manifest annotations, gives a Docker manifest
// list Docker children, and builds the index, with the members'
// referrers that still name their manifest.
func AssembleIndex(members []*Member, anns []plan.Annotation, mt plan.IndexMediaType) (*Assembly, error) {
	before := make([]v1.Hash, len(members))
	for i, m := range members {
		before[i] = m.digest
	}
	if err := annotateManifests(members, anns); err != nil {
		return nil, err
	}
	rewrite := annotationRewrite
	var warnings []string
	if mt == plan.DockerManifestList {
		var err error
		if warnings, err = toDocker(members); err != nil {
			return nil, err
		}
		rewrite = dockerRewrite
	}
	as, err := buildIndex(members, anns, mt)
	if err != nil {
		return nil, err
	}
	as.addReferrers(members, before, rewrite)
	as.Warnings = append(as.Warnings, warnings...)
	return as, nil
}

// flatten turns a source into its platform members. An index gives its
// children; attestation manifests are attached to the manifest they
// describe and never become a platform of their own.
func flatten(ctx context.Context, src plan.Ref, t source.Taggable, mt plan.IndexMediaType) ([]*Member, error) {
	switch t := t.(type) {
	case v1.Image:
		if src.Transport == plan.DockerArchive && mt == plan.OCIIndex {
			// An archive has no digest anyone depends on; give it the
			// index's format so the result is one consistent OCI image.
			var err error
			if t, err = convert.ToOCI(t); err != nil {
				return nil, fmt.Errorf("%w %s: converting to OCI: %v", plan.ErrSource, src, err)
			}
		}
		m, err := newMember(src, t, nil)
		if err != nil {
			return nil, err
		}
		return []*Member{m}, nil
	case v1.ImageIndex:
		return FlattenIndex(ctx, src, t)
	}
	return nil, fmt.Errorf("%w %s: neither an image nor an index", plan.ErrSource, src)
}

// FlattenIndex flattens an index and the indexes nested in it, within
// the bounds of a walk: a source's tree is data, and may be deep, wide or
// (where blobs are not verified) name itself.
func FlattenIndex(ctx context.Context, src plan.Ref, idx v1.ImageIndex) ([]*Member, error) {
	w := &walk{Walk: source.NewWalk(ctx, src.String()), members: map[v1.Hash]*Member{}}
	if d, err := idx.Digest(); err == nil {
		w.Enter(d)
	}
	return flattenNested(w, src, idx, 0)
}

func flattenNested(w *walk, src plan.Ref, idx v1.ImageIndex, depth int) ([]*Member, error) {
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index of %s: %w", src, err)
	}
	if err := source.CheckManifestSize("an index of "+src.String(), raw); err != nil {
		return nil, fmt.Errorf("%w %s: %w", plan.ErrSource, src, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index of %s: %w", src, err)
	}
	if err := w.Index(depth, len(im.Manifests)); err != nil {
		return nil, fmt.Errorf("%w %s: %w", plan.ErrSource, src, err)
	}
	var members []*Member
	var atts []attestation
	for _, d := range im.Manifests {
		if err := w.CheckChild(src, d); err != nil {
			return nil, err
		}
		switch {
		case d.MediaType.IsIndex():
			if !w.Enter(d.Digest) {
				continue // its members are in already
			}
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading %s@%s: %w", src, d.Digest, err)
			}
			ms, err := flattenNested(w, src, child, depth+1)
			if err != nil {
				return nil, err
			}
			if members, err = merge(members, ms); err != nil {
				return nil, err
			}
		case d.MediaType.IsImage() && w.members[d.Digest] != nil && d.Annotations[source.RefTypeAnnotation] != source.AttestationManifest:
			if members, err = merge(members, []*Member{w.members[d.Digest]}); err != nil {
				return nil, err
			}
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading %s@%s: %w", src, d.Digest, err)
			}
			if src.Transport == plan.Registry {
				if img, err = source.NewCachedConfigImage(img, src.Repo); err != nil {
					return nil, fmt.Errorf("%w %s: %w", plan.ErrSource, src, err)
				}
			}
			if d.Annotations[source.RefTypeAnnotation] == source.AttestationManifest {
				atts = append(atts, attestation{img: img, desc: d})
				continue
			}
			m, err := newMember(src, img, &d)
			if err != nil {
				return nil, err
			}
			w.members[d.Digest] = m
			if members, err = merge(members, []*Member{m}); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w %s: child %s has media type %q; only images and indexes can be joined", plan.ErrSource, src, d.Digest, d.MediaType)
		}
	}
	if err := attachAttestations(src, members, atts); err != nil {
		return nil, err
	}
	return members, nil
}

// attachAttestations gives each attestation manifest to the members it describes; one
// that describes no member of the index is an error.
func attachAttestations(src plan.Ref, members []*Member, atts []attestation) error {
	for _, att := range atts {
		subject := att.desc.Annotations[source.RefDigestAnnotation]
		attached := false
		for _, m := range members {
			if m.digest.String() == subject {
				m.attestations = append(m.attestations, att)
				attached = true
			}
		}
		if !attached {
			return fmt.Errorf("%w %s: attestation %s describes %s, which the index does not hold", plan.ErrSource, src, att.desc.Digest, subject)
		}
	}
	return nil
}

func newMember(src plan.Ref, img v1.Image, desc *v1.Descriptor) (*Member, error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", src, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config of %s@%s: %w", src, digest, err)
	}
	m := &Member{source: src, img: img, digest: digest}
	if p := cf.Platform(); p != nil && p.OS != "" && p.Architecture != "" {
		m.platform = *p
	} else if desc != nil && desc.Platform != nil && desc.Platform.Architecture != "" {
		m.platform = *desc.Platform
	} else {
		return nil, fmt.Errorf("%w %s@%s: no platform in its config (os and architecture are empty); only images can be joined", plan.ErrSource, src, digest)
	}
	if err := platform.Check(m.platform); err != nil {
		return nil, fmt.Errorf("%w %s@%s: %w", plan.ErrSource, src, digest, err)
	}
	if desc != nil && len(desc.Annotations) > 0 {
		m.annotations = maps.Clone(desc.Annotations)
	}
	return m, nil
}

// merge adds ms to members: the same digest twice is one member; two
// digests for one platform is a conflict naming both sources.
func merge(members, ms []*Member) ([]*Member, error) {
next:
	for _, m := range ms {
		for _, have := range members {
			if have.digest == m.digest {
				for _, att := range m.attestations {
					if !slices.ContainsFunc(have.attestations, func(x attestation) bool { return x.desc.Digest == att.desc.Digest }) {
						have.attestations = append(have.attestations, att)
					}
				}
				continue next
			}
			if platform.Key(have.platform) == platform.Key(m.platform) {
				return nil, fmt.Errorf("%w: %s has %s@%s and %s has %s@%s; give each platform once",
					ErrConflict, have.source, platform.String(have.platform), have.digest, m.source, platform.String(m.platform), m.digest)
			}
		}
		members = append(members, m)
	}
	return members, nil
}

// annotateManifests applies manifest-level annotations, which rewrite the
// platform manifests (new digests). Attestations are repointed at the new
// digest so they keep describing their image.
func annotateManifests(members []*Member, anns []plan.Annotation) error {
	for _, m := range members {
		add := map[string]string{}
		for _, an := range anns {
			if an.Level == plan.LevelManifest && an.Matches(m.platform) {
				add[an.Key] = an.Value
			}
		}
		if len(add) == 0 {
			continue
		}
		img := m.img
		mt, err := img.MediaType()
		if err != nil {
			return err
		}
		if mt == types.DockerManifestSchema2 {
			// Docker schema 2 has no annotations; the OCI manifest with the
			// same config and layers is the faithful carrier.
			if img, err = convert.ToOCI(img); err != nil {
				return fmt.Errorf("converting %s@%s to OCI for manifest annotations: %w", m.source, m.digest, err)
			}
		}
		img = mutate.Annotations(img, add).(v1.Image)
		d, err := img.Digest()
		if err != nil {
			return err
		}
		old := m.digest.String()
		m.img, m.digest = img, d
		for i := range m.attestations {
			if m.attestations[i].desc.Annotations[source.RefDigestAnnotation] == old {
				m.attestations[i].desc.Annotations = maps.Clone(m.attestations[i].desc.Annotations)
				m.attestations[i].desc.Annotations[source.RefDigestAnnotation] = d.String()
			}
		}
	}
	return nil
}

func buildIndex(members []*Member, anns []plan.Annotation, mediaType plan.IndexMediaType) (*Assembly, error) {
	var built [][]*layer.Builder
	mt := types.OCIImageIndex
	if mediaType == plan.DockerManifestList {
		mt = types.DockerManifestList
	}
	var descs []v1.Descriptor
	var imgs []v1.Image
	var infos []Manifest
	var platforms []v1.Platform
	indexAnns, indexDescAnns := indexLevels(anns)
	for _, m := range members {
		descAnns := maps.Clone(m.annotations)
		for _, an := range anns {
			if an.Level == plan.LevelManifestDescriptor && an.Matches(m.platform) {
				if descAnns == nil {
					descAnns = map[string]string{}
				}
				descAnns[an.Key] = an.Value
			}
		}
		p := m.platform
		d, err := descriptorOf(m.img, &p, descAnns)
		if err != nil {
			return nil, fmt.Errorf("describing %s: %w", m.source, err)
		}
		imageSize, err := imageSizeOf(m.img)
		if err != nil {
			return nil, fmt.Errorf("describing %s: %w", m.source, err)
		}
		descs, imgs = append(descs, d), append(imgs, m.img)
		platforms = append(platforms, p)
		built = append(built, m.built)
		infos = append(infos, Manifest{
			Platform: platform.String(p), Digest: d.Digest.String(), Size: d.Size, ImageSize: imageSize, MediaType: d.MediaType,
			Source: m.source.String(), Attestations: len(m.attestations),
		})
	}
	// Attestations follow all platforms, as BuildKit orders them.
	for _, m := range members {
		for _, att := range m.attestations {
			d, err := descriptorOf(att.img, att.desc.Platform, att.desc.Annotations)
			if err != nil {
				return nil, fmt.Errorf("describing attestation %s: %w", att.desc.Digest, err)
			}
			descs, imgs = append(descs, d), append(imgs, att.img)
		}
	}
	if len(indexAnns) == 0 {
		indexAnns = nil
	}
	idx, err := newIndex(mt, descs, imgs, indexAnns)
	if err != nil {
		return nil, err
	}
	digest, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	size, err := idx.Size()
	if err != nil {
		return nil, err
	}
	if len(indexDescAnns) == 0 {
		indexDescAnns = nil
	}
	as := &Assembly{Index: idx, Digest: digest, Size: size, MediaType: mt, Manifests: infos,
		IndexDescriptorAnnotations: indexDescAnns,
		Warnings:                   plan.UnmatchedFilters(anns, platforms)}
	if slices.ContainsFunc(built, func(b []*layer.Builder) bool { return b != nil }) {
		as.Built = built
	}
	return as, nil
}

// imageSizeOf is what pulling img downloads: its config and layers, not
// its manifest (the size the index's descriptor gives).
func imageSizeOf(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}

// Stager streams a new layer to where it is kept and returns a layer that
// reads the staged copy: the run's targets.
type Stager interface {
	Stage(ctx context.Context, bl *layer.Builder) (v1.Layer, error)
}

// walk is a bounded walk of a source's index tree, with the images read
// so far, by digest: an image listed again is the same member, not read
// again.
type walk struct {
	*source.Walk
	members map[v1.Hash]*Member
}

// indexLevels are the annotations of the index, and of its descriptor.
func indexLevels(anns []plan.Annotation) (index, descriptor map[string]string) {
	index, descriptor = map[string]string{}, map[string]string{}
	for _, an := range anns {
		switch an.Level {
		case plan.LevelIndex:
			index[an.Key] = an.Value
		case plan.LevelIndexDescriptor:
			descriptor[an.Key] = an.Value
		}
	}
	return index, descriptor
}
