package layout

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Dir is an OCI image layout read as a source
// (https://github.com/opencontainers/image-spec/blob/v1.1.1/image-layout.md).
// Every blob is read as content-addressed storage: through the layout's
// root (os.Root: no path leaves it, whatever symlinks it holds), from a
// regular file, and checked against the size and digest of the
// descriptor that names it, so a layout cannot give bytes other than the
// ones a manifest names, nor an index that names itself. Manifests and
// configs are bounded in size before they are read.
type Dir struct {
	Path string
}

// BlobPath is the path of a blob inside the layout. The digest was
// parsed by v1.Hash: an algorithm and hex digits, nothing a path can
// climb out with.
func BlobPath(h v1.Hash) string { return path.Join("blobs", h.Algorithm, h.Hex) }

// open opens the file rel inside the layout, which must be a regular
// file (a FIFO or a device would block or never end).
func (l Dir) open(rel string) (*os.File, os.FileInfo, error) {
	root, err := os.OpenRoot(l.Path)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s in layout %s is not a regular file", rel, l.Path)
	}
	return f, fi, nil
}

// Blob opens the blob d names, verified against d's size and digest.
func (l Dir) Blob(d v1.Descriptor) (io.ReadCloser, error) {
	if d.Size < 0 {
		return nil, fmt.Errorf("blob %s: size %d: %w", d.Digest, d.Size, source.ErrMismatch)
	}
	f, fi, err := l.open(BlobPath(d.Digest))
	if err != nil {
		return nil, fmt.Errorf("blob %s in layout %s: %w", d.Digest, l.Path, err)
	}
	if fi.Size() != d.Size {
		f.Close()
		return nil, fmt.Errorf("blob %s in layout %s holds %d bytes, its descriptor gives %d: %w", d.Digest, l.Path, fi.Size(), d.Size, source.ErrMismatch)
	}
	vr, err := source.NewVerifyingReader(f, d.Digest, d.Size)
	if err != nil {
		f.Close()
		return nil, err
	}
	return vr, nil
}

// bytes reads the blob d names whole, if d says it is at most limit
// bytes; what names it in errors.
func (l Dir) bytes(what string, d v1.Descriptor, limit int64) ([]byte, error) {
	if err := source.CheckSize(what, d, limit); err != nil {
		return nil, fmt.Errorf("layout %s: %w", l.Path, err)
	}
	rc, err := l.Blob(d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("reading %s %s in layout %s: %w", what, d.Digest, l.Path, err)
	}
	return b, nil
}

// RootIndex reads the layout's index.json, at most maxManifestSize bytes.
func (l Dir) RootIndex() (*Index, error) {
	f, fi, err := l.open("index.json")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > source.MaxManifestSize {
		return nil, fmt.Errorf("index.json is %d bytes, more than the %d allowed: %w", fi.Size(), source.MaxManifestSize, source.ErrOverLimit)
	}
	raw, err := io.ReadAll(io.LimitReader(f, source.MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > source.MaxManifestSize {
		return nil, fmt.Errorf("index.json is more than the %d bytes allowed: %w", source.MaxManifestSize, source.ErrOverLimit)
	}
	return NewIndex(l, raw, types.OCIImageIndex)
}

// Index is index.json or an index blob of a layout.
type Index struct {
	l        Dir
	raw      []byte
	mt       types.MediaType
	Manifest *v1.IndexManifest
}

var _ v1.ImageIndex = (*Index)(nil)

func NewIndex(l Dir, raw []byte, mt types.MediaType) (*Index, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return &Index{l: l, raw: raw, mt: mt, Manifest: im}, nil
}

func (i *Index) MediaType() (types.MediaType, error)       { return i.mt, nil }
func (i *Index) Digest() (v1.Hash, error)                  { return partial.Digest(i) }
func (i *Index) Size() (int64, error)                      { return partial.Size(i) }
func (i *Index) RawManifest() ([]byte, error)              { return i.raw, nil }
func (i *Index) IndexManifest() (*v1.IndexManifest, error) { return i.Manifest.DeepCopy(), nil }

// descriptor is the first of i's descriptors for h.
func (i *Index) descriptor(h v1.Hash) (v1.Descriptor, error) {
	for _, d := range i.Manifest.Manifests {
		if d.Digest == h {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("layout %s: no descriptor for %s in the index", i.l.Path, h)
}

// Image implements v1.ImageIndex.
func (i *Index) Image(h v1.Hash) (v1.Image, error) {
	d, err := i.descriptor(h)
	if err != nil {
		return nil, err
	}
	return i.l.image(d)
}

// ImageIndex implements v1.ImageIndex.
func (i *Index) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := i.descriptor(h)
	if err != nil {
		return nil, err
	}
	return i.l.index(d)
}

// index reads the index d names.
func (l Dir) index(d v1.Descriptor) (*Index, error) {
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("layout %s: %s has media type %q, not an index", l.Path, d.Digest, d.MediaType)
	}
	raw, err := l.bytes("index", d, source.MaxManifestSize)
	if err != nil {
		return nil, err
	}
	idx, err := NewIndex(l, raw, d.MediaType)
	if err != nil {
		return nil, fmt.Errorf("layout %s: index %s: %w", l.Path, d.Digest, err)
	}
	return idx, nil
}

// image reads the image manifest d names.
func (l Dir) image(d v1.Descriptor) (v1.Image, error) {
	if !d.MediaType.IsImage() {
		return nil, fmt.Errorf("layout %s: %s has media type %q, not an image manifest", l.Path, d.Digest, d.MediaType)
	}
	raw, err := l.bytes("manifest", d, source.MaxManifestSize)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("layout %s: manifest %s: %w", l.Path, d.Digest, err)
	}
	return partial.CompressedToImage(&layoutImage{l: l, desc: d, raw: raw, manifest: m})
}

// layoutImage is an image manifest of a layout, read and verified; its
// config and layers are read, verified, when asked for.
type layoutImage struct {
	l        Dir
	desc     v1.Descriptor
	raw      []byte
	manifest *v1.Manifest
}

var _ partial.CompressedImageCore = (*layoutImage)(nil)

func (i *layoutImage) MediaType() (types.MediaType, error) { return i.desc.MediaType, nil }
func (i *layoutImage) RawManifest() ([]byte, error)        { return i.raw, nil }

// Descriptor implements partial.Describable: the descriptor index.json or
// the parent index gives, with its platform and annotations.
func (i *layoutImage) Descriptor() (*v1.Descriptor, error) { d := i.desc; return &d, nil }

// RawConfigFile implements partial.CompressedImageCore, bounded by
// maxConfigSize.
func (i *layoutImage) RawConfigFile() ([]byte, error) {
	return i.l.bytes("config", i.manifest.Config, source.MaxConfigSize)
}

// LayerByDigest implements partial.CompressedImageCore.
func (i *layoutImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.manifest.Config.Digest {
		return &layoutBlob{l: i.l, desc: i.manifest.Config}, nil
	}
	for _, d := range i.manifest.Layers {
		if d.Digest == h {
			return &layoutBlob{l: i.l, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("layout %s: manifest %s names no blob %s", i.l.Path, i.desc.Digest, h)
}

// layoutBlob is a layer or config blob of a layout, verified as read.
type layoutBlob struct {
	l    Dir
	desc v1.Descriptor
}

var _ partial.CompressedLayer = (*layoutBlob)(nil)

func (b *layoutBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *layoutBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *layoutBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *layoutBlob) Descriptor() (*v1.Descriptor, error) { d := b.desc; return &d, nil }
func (b *layoutBlob) Compressed() (io.ReadCloser, error)  { return b.l.Blob(b.desc) }
