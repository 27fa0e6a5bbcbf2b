package layout

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"

	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// ErrSymlink is wrapped by errors about a layout target whose
// index.json, oci-layout, blobs directories or a blob are symlinks.
var ErrSymlink = errors.New("a layout target's own files must not be symlinks")

// layoutWriteJobs is how many blobs of one image are written at a time.
const layoutWriteJobs = 8

// Writer writes an OCI image layout target
// (https://github.com/opencontainers/image-spec/blob/v1.1.1/image-layout.md).
// The directory the user names may be a symlink; nothing inside it may:
// a symlink already in place at index.json or blobs/sha256 would make a
// write land outside the layout. Every write goes through the layout's
// os.Root (no path leaves it) to a new file that is then renamed over its
// name, so an entry that appears while the join runs is replaced, never
// written through.
type Writer struct {
	path string
	root *os.Root
}

// OpenWriter opens the layout at dir, creating it (an empty index)
// where there is none.
func OpenWriter(dir string) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	w := &Writer{path: dir, root: root}
	if err := w.init(); err != nil {
		root.Close()
		return nil, err
	}
	return w, nil
}

func (w *Writer) Close() error { return w.root.Close() }

func (w *Writer) init() error {
	for _, dir := range []string{"blobs", "blobs/sha256"} {
		fi, err := w.lstat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := w.root.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		case err != nil:
			return err
		case !fi.IsDir():
			return fmt.Errorf("layout %s: %s is not a directory", w.path, dir)
		}
	}
	for name, initial := range map[string]string{
		"oci-layout": `{"imageLayoutVersion":"1.0.0"}`,
		"index.json": `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`,
	} {
		_, err := w.lstat(name)
		if errors.Is(err, fs.ErrNotExist) {
			err = w.writeFile(name, []byte(initial))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// lstat is os.Lstat of rel inside the layout, refusing a symlink.
func (w *Writer) lstat(rel string) (fs.FileInfo, error) {
	fi, err := w.root.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("layout %s: %s is a symlink: %w", w.path, rel, ErrSymlink)
	}
	return fi, nil
}

// createTemp creates a new file in dir (a path inside the layout) for
// its content to be renamed into place.
func (w *Writer) createTemp(dir string) (*os.File, string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, "", err
	}
	name := path.Join(dir, ".tmp-"+hex.EncodeToString(b[:]))
	f, err := w.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	return f, name, err
}

// writeFile replaces rel with data, through a new file and a rename.
func (w *Writer) writeFile(rel string, data []byte) error {
	return w.write(rel, bytes.NewReader(data))
}

func (w *Writer) write(rel string, r io.Reader) error {
	f, tmp, err := w.createTemp(path.Dir(rel))
	if err != nil {
		return fmt.Errorf("layout %s: %w", w.path, err)
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.root.Rename(tmp, rel)
	}
	if err != nil {
		w.root.Remove(tmp)
		return fmt.Errorf("layout %s: writing %s: %w", w.path, rel, err)
	}
	return nil
}

// has reports whether the blob h of size bytes is in the layout. A
// symlink in its place is an error.
func (w *Writer) has(h v1.Hash, size int64) (bool, error) {
	fi, err := w.lstat(BlobPath(h))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	return fi.Mode().IsRegular() && fi.Size() == size, nil
}

// writeBlob writes the blob h unless the layout has it.
func (w *Writer) writeBlob(h v1.Hash, size int64, open func() (io.ReadCloser, error)) error {
	if ok, err := w.has(h, size); ok || err != nil {
		return err
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	return w.write(BlobPath(h), rc)
}

// WriteStream writes a layer whose digest is known only once it has been
// read (stream.ErrNotComputed): to a new file, renamed to its digest.
func (w *Writer) WriteStream(l v1.Layer) (v1.Hash, error) {
	f, tmp, err := w.createTemp(path.Join("blobs", "sha256"))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("layout %s: %w", w.path, err)
	}
	defer w.root.Remove(tmp) // gone after the rename; cleans up a failure
	rc, err := l.Compressed()
	if err != nil {
		f.Close()
		return v1.Hash{}, err
	}
	_, err = io.Copy(f, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return v1.Hash{}, fmt.Errorf("layout %s: writing a layer: %w", w.path, err)
	}
	h, err := l.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	if _, err := w.has(h, 0); err != nil {
		return v1.Hash{}, err // a symlink in its place
	}
	if err := w.root.Rename(tmp, BlobPath(h)); err != nil {
		return v1.Hash{}, fmt.Errorf("layout %s: %w", w.path, err)
	}
	return h, nil
}

// WriteImage writes img's layers, config and manifest.
func (w *Writer) WriteImage(ctx context.Context, img v1.Image) error {
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(layoutWriteJobs)
	for _, l := range ls {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			h, err := l.Digest()
			if errors.Is(err, stream.ErrNotComputed) {
				_, err = w.WriteStream(l)
				return err
			}
			if err != nil {
				return err
			}
			size, err := l.Size()
			if err != nil {
				return err
			}
			return w.writeBlob(h, size, l.Compressed)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if err := w.writeBytes(cfgName, cfg); err != nil {
		return err
	}
	return w.writeManifest(img)
}

func (w *Writer) writeBytes(h v1.Hash, b []byte) error {
	return w.writeBlob(h, int64(len(b)), func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

func (w *Writer) writeManifest(m source.Taggable) error {
	h, err := m.Digest()
	if err != nil {
		return err
	}
	raw, err := m.RawManifest()
	if err != nil {
		return err
	}
	return w.writeBytes(h, raw)
}

// WriteIndex writes idx and everything below it, innermost first.
func (w *Writer) WriteIndex(ctx context.Context, idx v1.ImageIndex) error {
	children, err := partial.Manifests(idx)
	if err != nil {
		return err
	}
	for _, c := range children {
		switch c := c.(type) {
		case v1.Image:
			err = w.WriteImage(ctx, c)
		case v1.ImageIndex:
			err = w.WriteIndex(ctx, c)
		default:
			err = fmt.Errorf("index child %T is not a manifest", c)
		}
		if err != nil {
			return err
		}
	}
	return w.writeManifest(idx)
}

// IndexJSON reads the layout's index.json, bounded as a source's is.
func (w *Writer) IndexJSON() (*v1.IndexManifest, error) {
	if _, err := w.lstat("index.json"); err != nil {
		return nil, err
	}
	idx, err := Dir{Path: w.path}.RootIndex()
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", w.path, err)
	}
	return idx.Manifest, nil
}

// UpdateIndexJSON rewrites index.json with the descriptors keep leaves
// and add after them.
func (w *Writer) UpdateIndexJSON(keep func(v1.Descriptor) bool, add ...v1.Descriptor) error {
	im, err := w.IndexJSON()
	if err != nil {
		return err
	}
	im.Manifests = append(slices.DeleteFunc(im.Manifests, func(d v1.Descriptor) bool { return !keep(d) }), add...)
	if im.MediaType == "" {
		im.MediaType = types.OCIImageIndex
	}
	raw, err := json.Marshal(im)
	if err != nil {
		return err
	}
	return w.writeFile("index.json", raw)
}
