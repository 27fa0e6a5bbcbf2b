package publish

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/layout"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// layoutDest is an OCI image layout directory and the tags (ref.name
// annotations of index.json) to give the index there.
type layoutDest struct {
	path string
	tags []string

	once    sync.Once // creates the layout for the first staged layer
	openErr error
}

var _ destination = (*layoutDest)(nil)

// stage streams the layer into the layout's blob directory: a new file
// renamed to its digest once the stream is complete.
func (d *layoutDest) stage(_ context.Context, bl *layer.Builder) (v1.Layer, error) {
	d.once.Do(func() {
		w, err := layout.OpenWriter(d.path)
		if err != nil {
			d.openErr = fmt.Errorf("opening layout %s: %w", d.path, err)
			return
		}
		w.Close()
	})
	if d.openErr != nil {
		return nil, d.openErr
	}
	l, err := bl.Layer()
	if err != nil {
		return nil, err
	}
	w, err := layout.OpenWriter(d.path)
	if err != nil {
		return nil, fmt.Errorf("opening layout %s: %w", d.path, err)
	}
	defer w.Close()
	h, err := w.WriteStream(l)
	if err != nil {
		return nil, fmt.Errorf("writing a layer to oci:%s: %w", d.path, err)
	}
	blob := layout.Dir{Path: d.path}
	info, err := layer.InfoOf(l)
	if err != nil {
		return nil, err
	}
	info.Digest = h
	return layer.Known(info, func() (io.ReadCloser, error) {
		return blob.Blob(v1.Descriptor{Digest: h, Size: info.Size})
	})
}

func (d *layoutDest) write(ctx context.Context, as *assembly.Assembly) error {
	w, err := layout.OpenWriter(d.path)
	if err != nil {
		return fmt.Errorf("opening layout %s: %w", d.path, err)
	}
	defer w.Close()
	if err := w.WriteIndex(ctx, as.Index); err != nil {
		return fmt.Errorf("writing layout %s: %w", d.path, err)
	}
	return d.writeReferrers(ctx, w, as)
}

// tagJobs is one job for the layout: its tags share index.json.
func (d *layoutDest) tagJobs(as *assembly.Assembly) []tagJob {
	tags := d.tags
	if len(tags) == 0 {
		tags = []string{""}
	}
	return []tagJob{{"oci:" + d.path, func(context.Context) error {
		for _, tag := range tags {
			if err := d.tag(tag, as); err != nil {
				return err
			}
		}
		return nil
	}}}
}

// tag records the index in the layout's index.json under
// org.opencontainers.image.ref.name, replacing an entry of the same name
// (untagged, an entry of the same digest), so skopeo and umoci find it
// as oci:PATH:TAG.
func (d *layoutDest) tag(tag string, as *assembly.Assembly) error {
	w, err := layout.OpenWriter(d.path)
	if err != nil {
		return fmt.Errorf("opening layout %s: %w", d.path, err)
	}
	defer w.Close()
	anns := maps.Clone(as.IndexDescriptorAnnotations)
	if tag != "" {
		if anns == nil {
			anns = map[string]string{}
		}
		anns[specs.AnnotationRefName] = tag
	}
	desc := v1.Descriptor{MediaType: as.MediaType, Size: as.Size, Digest: as.Digest, Annotations: anns}
	keep := func(x v1.Descriptor) bool {
		if tag != "" {
			return x.Annotations[specs.AnnotationRefName] != tag
		}
		return x.Digest != as.Digest
	}
	if err := w.UpdateIndexJSON(keep, desc); err != nil {
		return fmt.Errorf("tagging layout %s: %w", d.path, err)
	}
	return nil
}

// verify reads the index back as a source would: bounded and verified.
func (d *layoutDest) verify(_ context.Context, as *assembly.Assembly) error {
	l := layout.Dir{Path: d.path}
	root, err := l.RootIndex()
	if err != nil {
		return fmt.Errorf("reading back layout %s: %w", d.path, err)
	}
	im := root.Manifest
	for _, tag := range d.tags {
		i := slices.IndexFunc(im.Manifests, func(desc v1.Descriptor) bool { return desc.Annotations[specs.AnnotationRefName] == tag })
		if i < 0 || im.Manifests[i].Digest != as.Digest {
			return fmt.Errorf("%w: oci:%s:%s does not point at %s", ErrVerify, d.path, tag, as.Digest)
		}
	}
	if _, err := root.ImageIndex(as.Digest); err != nil {
		return fmt.Errorf("%w: oci:%s: index %s unreadable: %v", ErrVerify, d.path, as.Digest, err)
	}
	return nil
}

func (d *layoutDest) targets(as *assembly.Assembly) []Target {
	return []Target{{Ref: "oci:" + d.path, Tags: d.tags, Image: "oci:" + d.path + "@" + as.Digest.String()}}
}
