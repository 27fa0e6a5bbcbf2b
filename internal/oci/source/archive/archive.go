package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	"golang.org/x/sync/errgroup"
)

// A docker archive (`docker save`, nix's buildLayeredImage and
// streamLayeredImage) is a tar of a manifest.json, a config and one file
// per layer, usually uncompressed. It is read in one pass for the
// position of every file, then each file is read where it lies; an
// uncompressed layer is compressed once, while it is uploaded (staged), as
// a layer built from files is. A gzipped archive is decompressed once,
// into an unnamed temporary file.
// Format: https://github.com/moby/moby/blob/master/image/spec/v1.2.md#combined-image-json--filesystem-changeset-format

// archiveManifest is one image of an archive's manifest.json.
type archiveManifest struct {
	Config string
	Layers []string
}

// archiveFile is where one file of the archive lies.
type archiveFile struct{ off, size int64 }

// archive is an opened docker archive: the file (decompressed if it was
// gzipped) and where each file in it lies.
type archive struct {
	path  string
	f     *os.File
	files map[string]archiveFile
	// early are the layers staged while a gzipped archive was
	// decompressed, by file name.
	early map[string]v1.Layer
}

// openArchive opens path and indexes it. A gzipped archive is decompressed
// once, into an unnamed temporary file; while it is, each file that is an
// uncompressed tar (a layer, most likely: which files are layers is only
// known from manifest.json, which nix writes last) is staged as soon as it
// is all in the temporary file, so decompressing the next one overlaps
// compressing it. A staged file that turns out not to be a layer only cost
// its upload.
func openArchive(ctx context.Context, c *client.Client, path string, stage source.StageFunc) (*archive, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() //nolint:errcheck // read-only; a kept file is reopened or copied
	ar := &archive{path: path, files: map[string]archiveFile{}, early: map[string]v1.Layer{}}
	cr := &countReader{r: f}
	br := bufio.NewReader(cr)
	if magic, err := br.Peek(2); err == nil && isGzip(magic) {
		fi, err := f.Stat()
		if err != nil {
			return nil, err
		}
		size := fi.Size()
		if !fi.Mode().IsRegular() {
			size = 0 // a pipe: bounded by what was read so far
		}
		limit := func() int64 { return ExpansionLimit(size, cr.n) }
		if err := gunzipStaging(ctx, c, br, ar, stage, limit); err != nil {
			if ar.f != nil {
				ar.f.Close() //nolint:errcheck // failing already
			}
			return nil, err
		}
		return ar, nil
	}
	if ar.f, err = os.Open(path); err != nil {
		return nil, err
	}
	if err := ar.index(); err != nil {
		ar.f.Close() //nolint:errcheck // failing already
		return nil, err
	}
	return ar, nil
}

// gunzipStaging decompresses r into an unnamed temporary file (gone when
// the file is closed or the process ends), indexing it and staging the
// files that are uncompressed tars on the way. No more than limit() bytes
// are decompressed.
func gunzipStaging(ctx context.Context, c *client.Client, r io.Reader, ar *archive, stage source.StageFunc, limit func() int64) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	if ar.f, err = c.CreateTemp("", "oci-assemble-archive-*"); err != nil {
		return err
	}
	if err := os.Remove(ar.f.Name()); err != nil {
		return err
	}
	cw := &countWriter{w: ar.f}
	br := &boundedReader{r: ctxReader{ctx: ctx, r: zr}, limit: limit}
	tr := tar.NewReader(io.TeeReader(br, cw))
	// Staged layers are read again later with the context they were
	// staged with: stage with the caller's, as source.StageAll does.
	var g errgroup.Group
	g.SetLimit(c.Jobs())
	var mu sync.Mutex
	head := make([]byte, 512)
	early := 0 // at most maxArchiveLayers files are staged early
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			_ = g.Wait()
			return fmt.Errorf("decompressing: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name, off := cleanArchiveName(hdr.Name), cw.n
		if err := ar.add(hdr, off); err != nil {
			_ = g.Wait()
			return err
		}
		k, err := io.ReadFull(tr, head[:min(int64(len(head)), hdr.Size)])
		if err == nil {
			_, err = io.Copy(io.Discard, tr)
		}
		if err != nil {
			_ = g.Wait()
			return fmt.Errorf("decompressing %q: %w", hdr.Name, err)
		}
		if k < len(head) || string(head[257:262]) != "ustar" || early == MaxLayers {
			continue
		}
		early++
		s := io.NewSectionReader(ar.f, off, hdr.Size)
		b, err := layer.FromTar(ar.path+"\x00"+name, v1.Hash{}, func() (io.ReadCloser, error) {
			return io.NopCloser(io.NewSectionReader(s, 0, s.Size())), nil
		})
		if err != nil {
			_ = g.Wait()
			return err
		}
		g.Go(func() error {
			l, err := stage(ctx, b)
			mu.Lock()
			ar.early[name] = l
			mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// The rest (a tar's zero padding) is read too, for the gzip trailer's
	// checksum (RFC 1952 §2.3.1), within the same bound.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return fmt.Errorf("decompressing: %w", err)
	}
	return nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// index reads every header, skipping the contents (the file seeks).
func (a *archive) index() error {
	tr := tar.NewReader(a.f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		off, err := a.f.Seek(0, io.SeekCurrent)
		if err != nil {
			return err
		}
		if err := a.add(hdr, off); err != nil {
			return err
		}
	}
}

func cleanArchiveName(n string) string { return strings.TrimPrefix(path.Clean("/"+n), "/") }

// section reads one file of the archive, by a name from manifest.json; it
// fails with a message naming the file when the archive has no such file.
// Files are only ever looked up among the archive's own.
func (a *archive) section(name string) (*io.SectionReader, error) {
	if err := checkArchiveName(name); err != nil {
		return nil, err
	}
	af, ok := a.files[cleanArchiveName(name)]
	if !ok {
		return nil, fmt.Errorf("%q is not in the archive", name)
	}
	return io.NewSectionReader(a.f, af.off, af.size), nil
}

// readAll reads one file of the archive whole, if it is at most limit
// bytes.
func (a *archive) readAll(name string, limit int64) ([]byte, error) {
	s, err := a.section(name)
	if err != nil {
		return nil, err
	}
	if s.Size() > limit {
		return nil, fmt.Errorf("%q is %d bytes, more than the %d allowed: %w", name, s.Size(), limit, ErrLimit)
	}
	return io.ReadAll(s)
}

// resolveArchive reads a docker archive of one image. Its uncompressed
// layers are staged by stage, compressed once while they are sent, and
// must match the diffIDs of the image's config, as its compressed ones
// must.
func resolveArchive(ctx context.Context, c *client.Client, src plan.Ref, stage source.StageFunc) (v1.Image, error) {
	fail := func(err error) error {
		return fmt.Errorf("%w %s: reading docker archive: %w", plan.ErrSource, src, err)
	}
	ar, err := openArchive(ctx, c, src.Path, stage)
	if err != nil {
		return nil, fail(err)
	}
	img, err := readArchiveImage(ctx, c, ar, stage)
	if err != nil {
		ar.f.Close() //nolint:errcheck // failing already; frees a temporary file
		return nil, fail(err)
	}
	return img, nil
}

// archiveImage reads the image of an opened archive.
func readArchiveImage(ctx context.Context, c *client.Client, ar *archive, stage source.StageFunc) (v1.Image, error) {
	raw, err := ar.readAll("manifest.json", source.MaxManifestSize)
	if err != nil {
		return nil, err
	}
	var ms []archiveManifest
	if err := json.Unmarshal(raw, &ms); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	if len(ms) != 1 {
		return nil, fmt.Errorf("it holds %d images; only an archive of one image can be a source", len(ms))
	}
	if len(ms[0].Layers) > MaxLayers {
		return nil, fmt.Errorf("manifest.json lists %d layers, more than %d: %w", len(ms[0].Layers), MaxLayers, ErrLimit)
	}
	img := &archiveImage{}
	if img.config, err = ar.readAll(ms[0].Config, source.MaxConfigSize); err != nil {
		return nil, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(img.config))
	if err != nil {
		return nil, fmt.Errorf("config %q: %w", ms[0].Config, err)
	}
	if len(cf.RootFS.DiffIDs) != len(ms[0].Layers) {
		return nil, fmt.Errorf("the config lists %d layers, manifest.json %d", len(cf.RootFS.DiffIDs), len(ms[0].Layers))
	}
	if img.layers, err = archiveLayers(ctx, c, ar, ms[0].Layers, cf.RootFS.DiffIDs, stage); err != nil {
		return nil, err
	}
	if err := img.makeManifest(); err != nil {
		return nil, err
	}
	ext, err := partial.CompressedToImage(img)
	if err != nil {
		return nil, err
	}
	return &archiveV1Image{Image: ext, layers: img.layers}, nil
}

// archiveV1Image hands out the archive's layers as they are, so that a
// staged layer still names the repository it is in (the writer then
// neither uploads nor mounts it there again).
type archiveV1Image struct {
	v1.Image
	layers []v1.Layer
}

func (i *archiveV1Image) Layers() ([]v1.Layer, error) { return slices.Clone(i.layers), nil }

func (i *archiveV1Image) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	for _, l := range i.layers {
		if d, err := l.Digest(); err == nil && d == h {
			return l, nil
		}
	}
	return i.Image.LayerByDigest(h)
}

// archiveLayers makes each layer of the archive: a compressed one is sent
// as it is, once its content is checked against its diffID (while the
// others are staged); an uncompressed one is staged, and its diffID
// checked as it is.
func archiveLayers(ctx context.Context, c *client.Client, ar *archive, names []string, diffIDs []v1.Hash, stage source.StageFunc) ([]v1.Layer, error) {
	layers := make([]v1.Layer, len(names))
	var streams []*layer.Builder
	var blobs []*archiveBlob
	at := map[string][]int{}
	byName := map[string]*archiveBlob{}
	for i, n := range names {
		if err := checkArchiveName(n); err != nil {
			return nil, err
		}
		if l, ok := ar.early[cleanArchiveName(n)]; ok {
			layers[i] = dockerLayer(l)
			continue
		}
		s, err := ar.section(n)
		if err != nil {
			return nil, err
		}
		magic := make([]byte, 4)
		k, _ := s.ReadAt(magic, 0)
		if mt, ok := compressedType(magic[:k]); ok {
			b := byName[cleanArchiveName(n)]
			if b == nil {
				b = &archiveBlob{name: n, s: s, mt: mt}
				byName[cleanArchiveName(n)] = b
				blobs = append(blobs, b)
			}
			layers[i] = b
			continue
		}
		open := func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(s, 0, s.Size())), nil }
		b, err := layer.FromTar(ar.path+"\x00"+n, diffIDs[i], open)
		if err != nil {
			return nil, err
		}
		if _, seen := at[b.Key()]; !seen {
			streams = append(streams, b)
		}
		at[b.Key()] = append(at[b.Key()], i)
	}
	var staged map[string]v1.Layer
	var g errgroup.Group
	g.Go(func() error { return checkBlobs(ctx, c, blobs) })
	g.Go(func() (err error) {
		staged, err = source.StageAll(ctx, c.Jobs(), stage, streams)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for key, is := range at {
		for _, i := range is {
			layers[i] = dockerLayer(staged[key])
		}
	}
	for i, l := range layers {
		got, err := l.DiffID()
		if err != nil {
			return nil, err
		}
		if got != diffIDs[i] {
			return nil, fmt.Errorf("layer %q has diffID %s, its config says %s: %w", names[i], got, diffIDs[i], ErrMismatch)
		}
	}
	return layers, nil
}

// checkBlobs hashes the compressed layers of an archive, a few at once.
func checkBlobs(ctx context.Context, c *client.Client, blobs []*archiveBlob) error {
	var g errgroup.Group
	g.SetLimit(c.Jobs())
	for _, b := range blobs {
		g.Go(func() error { return b.check(ctx) })
	}
	return g.Wait()
}

// dockerLayer describes a staged gzip layer with the Docker media type,
// which the archive's Docker manifest needs; a layer that can be mounted
// stays mountable.
func dockerLayer(l v1.Layer) v1.Layer {
	if ml, ok := l.(*remote.MountableLayer); ok {
		return &remote.MountableLayer{Layer: &dockerTyped{ml.Layer}, Reference: ml.Reference}
	}
	return &dockerTyped{l}
}

type dockerTyped struct{ v1.Layer }

func (l *dockerTyped) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }

// isGzip reports whether data that starts with magic is gzipped (RFC 1952).
func isGzip(magic []byte) bool { return bytes.HasPrefix(magic, []byte{0x1f, 0x8b}) }

// compressedType is the media type of a layer that starts with magic, if
// it is compressed.
func compressedType(magic []byte) (types.MediaType, bool) {
	switch {
	case isGzip(magic):
		return types.DockerLayer, true
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return types.OCILayerZStd, true
	}
	return "", false
}

// archiveImage is the image of an archive: its config as it is, and a
// Docker manifest of the layers.
type archiveImage struct {
	config   []byte
	layers   []v1.Layer
	manifest []byte
}

func (i *archiveImage) makeManifest() error {
	cd, err := partial.Descriptor(partialConfig(i.config))
	if err != nil {
		return err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2, Config: *cd}
	for _, l := range i.layers {
		d, err := partial.Descriptor(l)
		if err != nil {
			return err
		}
		m.Layers = append(m.Layers, *d)
	}
	i.manifest, err = json.Marshal(m)
	return err
}

func (i *archiveImage) RawConfigFile() ([]byte, error)      { return i.config, nil }
func (i *archiveImage) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }
func (i *archiveImage) RawManifest() ([]byte, error)        { return i.manifest, nil }

// LayerByDigest implements partial.CompressedImageCore.
func (i *archiveImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.layers {
		if d, err := l.Digest(); err == nil && d == h {
			return l, nil
		}
	}
	if d, _, _ := v1.SHA256(bytes.NewReader(i.config)); d == h {
		return partialConfig(i.config), nil
	}
	return nil, fmt.Errorf("blob %s is not in the image", h)
}

// partialConfig describes the config blob.
type partialConfig []byte

func (c partialConfig) Digest() (v1.Hash, error) {
	d, _, err := v1.SHA256(bytes.NewReader(c))
	return d, err
}
func (c partialConfig) Size() (int64, error)                { return int64(len(c)), nil }
func (c partialConfig) MediaType() (types.MediaType, error) { return types.DockerConfigJSON, nil }
func (c partialConfig) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(c)), nil
}
