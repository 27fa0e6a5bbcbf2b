package oci

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
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

func openOrCreateLayout(path string) (layout.Path, error) {
	if _, err := os.Stat(filepath.Join(path, "index.json")); err == nil {
		return layout.FromPath(path)
	}
	return layout.Write(path, empty.Index)
}

// stage streams the layer into the layout's blob directory: a temporary
// file renamed to its digest once the stream is complete.
func (d *layoutDest) stage(_ context.Context, bl *layer.Builder) (v1.Layer, error) {
	d.once.Do(func() {
		if _, err := openOrCreateLayout(d.path); err != nil {
			d.openErr = fmt.Errorf("opening layout %s: %w", d.path, err)
		}
	})
	if d.openErr != nil {
		return nil, d.openErr
	}
	l, err := bl.Layer()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(d.path, "blobs", "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, ".staging-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name()) // gone after the rename; cleans up a failure
	rc, err := l.Compressed()
	if err != nil {
		f.Close()
		return nil, err
	}
	_, err = io.Copy(f, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing a layer to oci:%s: %w", d.path, err)
	}
	h, err := l.Digest()
	if err != nil {
		return nil, err
	}
	blob := filepath.Join(dir, h.Hex)
	if err := os.Rename(f.Name(), blob); err != nil {
		return nil, err
	}
	return newKnownLayer(l, func() (io.ReadCloser, error) { return os.Open(blob) })
}

func (d *layoutDest) write(_ context.Context, as *Assembly) error {
	p, err := openOrCreateLayout(d.path)
	if err != nil {
		return fmt.Errorf("opening layout %s: %w", d.path, err)
	}
	if err := p.WriteIndex(as.Index); err != nil {
		return fmt.Errorf("writing layout %s: %w", d.path, err)
	}
	return d.writeReferrers(p, as)
}

// tagJobs is one job for the layout: its tags share index.json.
func (d *layoutDest) tagJobs(as *Assembly) []tagJob {
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
// org.opencontainers.image.ref.name, replacing an entry of the same name,
// so skopeo and umoci find it as oci:PATH:TAG.
func (d *layoutDest) tag(tag string, as *Assembly) error {
	p, err := layout.FromPath(d.path)
	if err != nil {
		return fmt.Errorf("opening layout %s: %w", d.path, err)
	}
	anns := maps.Clone(as.IndexDescriptorAnnotations)
	if tag != "" {
		if anns == nil {
			anns = map[string]string{}
		}
		anns[specs.AnnotationRefName] = tag
	}
	var m match.Matcher = match.Digests(as.Digest)
	if tag != "" {
		m = match.Annotation(specs.AnnotationRefName, tag)
	}
	if err := p.ReplaceIndex(as.Index, m, layout.WithAnnotations(anns)); err != nil {
		return fmt.Errorf("tagging layout %s: %w", d.path, err)
	}
	return nil
}

func (d *layoutDest) verify(_ context.Context, as *Assembly) error {
	idx, err := layout.ImageIndexFromPath(d.path)
	if err != nil {
		return fmt.Errorf("reading back layout %s: %w", d.path, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading back layout %s: %w", d.path, err)
	}
	for _, tag := range d.tags {
		i := slices.IndexFunc(im.Manifests, func(desc v1.Descriptor) bool { return desc.Annotations[specs.AnnotationRefName] == tag })
		if i < 0 || im.Manifests[i].Digest != as.Digest {
			return fmt.Errorf("%w: oci:%s:%s does not point at %s", ErrVerify, d.path, tag, as.Digest)
		}
	}
	if _, err := idx.ImageIndex(as.Digest); err != nil {
		return fmt.Errorf("%w: oci:%s: index %s unreadable: %v", ErrVerify, d.path, as.Digest, err)
	}
	return nil
}

func (d *layoutDest) targets(as *Assembly) []Target {
	return []Target{{Ref: "oci:" + d.path, Tags: d.tags, Image: "oci:" + d.path + "@" + as.Digest.String()}}
}
