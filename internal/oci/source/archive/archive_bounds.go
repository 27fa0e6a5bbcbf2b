package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// A docker archive is a file the user names, but its contents are often
// someone else's (a build's artifact, a download). These bound what it
// can make the step read, decompress and write; none is near what a real
// archive needs.
const (
	// maxArchiveExpansion bounds how many times its own size a gzipped
	// archive may expand into the temporary file it is decompressed
	// into: `docker save | gzip` expands 2 to 5 times, while deflate
	// allows 1032 (RFC 1951: 258 bytes from one 2-bit match), so a 2 MB
	// file may otherwise write 2 GB. An archive this refuses can be given
	// decompressed, which is read where it lies.
	maxArchiveExpansion = 128
	// ExpansionFloor is what any gzipped archive may expand to,
	// however small: a small archive of empty files expands many times.
	ExpansionFloor = 64 << 20
	// maxLayerExpansion bounds how many times its size a compressed layer
	// of an archive may expand while its diffID is checked: no more than
	// deflate can. The check writes nothing, so only time is at stake.
	maxLayerExpansion = 1032
	// manifest.json is bounded like a manifest (maxManifestSize) and an
	// image config like any other (maxConfigSize): both are read whole.
	// maxArchiveEntries bounds the tar entries indexed: `docker save`
	// writes four for each layer.
	maxArchiveEntries = 1 << 16
	// maxArchiveName bounds an entry's name (Linux's PATH_MAX).
	maxArchiveName = 4096
	// MaxLayers bounds the layers of the archive's image; Docker's
	// overlay2 driver stops at 128.
	MaxLayers = 1024
)

// ErrLimit is wrapped by errors about an archive that passes one
// of the bounds above.
var ErrLimit = errors.New("over the limit for a docker archive")

// ErrMismatch is wrapped by errors about a layer of an archive
// that is not what the archive's config says.
var ErrMismatch = errors.New("layer does not match the archive's config")

// ExpansionLimit is how many bytes a gzipped archive of size bytes (or,
// read from a pipe, of which read bytes were read so far) may expand to.
func ExpansionLimit(size, read int64) int64 {
	return ExpansionFloor + maxArchiveExpansion*max(size, read)
}

// boundedReader reads r and fails with errArchiveLimit, without
// returning anything past it, once more than limit() bytes were read.
type boundedReader struct {
	r     io.Reader
	n     int64
	limit func() int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	lim := b.limit()
	if b.n >= lim {
		// One byte more shows whether there is more.
		var one [1]byte
		if k, err := b.r.Read(one[:]); k == 0 {
			return 0, err
		}
		return 0, fmt.Errorf("the gzipped archive expands to more than %d bytes, %d times its size: %w (decompress it and give the .tar)",
			lim, maxArchiveExpansion, ErrLimit)
	}
	n, err := b.r.Read(p[:min(int64(len(p)), lim-b.n)])
	b.n += int64(n)
	return n, err
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// add records a regular file of the archive at off: once, with a name of
// bounded length, not sparse (a sparse file's bytes in the archive are
// not its content).
func (a *archive) add(hdr *tar.Header, off int64) error {
	if len(a.files) >= maxArchiveEntries {
		return fmt.Errorf("more than %d files: %w", maxArchiveEntries, ErrLimit)
	}
	if len(hdr.Name) > maxArchiveName {
		return fmt.Errorf("a file name of %d bytes: %w", len(hdr.Name), ErrLimit)
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return fmt.Errorf("%q is a sparse file, which no docker archive holds", hdr.Name)
		}
	}
	name := cleanArchiveName(hdr.Name)
	if _, dup := a.files[name]; dup {
		return fmt.Errorf("%q is in the archive twice", hdr.Name)
	}
	a.files[name] = archiveFile{off: off, size: hdr.Size}
	return nil
}

// checkArchiveName refuses a name in manifest.json that is not a plain
// path inside the archive: names are looked up among the archive's own
// files, never on disk, but "../x" or "/x" is no name `docker save` writes.
func checkArchiveName(n string) error {
	c := path.Clean(n)
	if n == "" || len(n) > maxArchiveName || path.IsAbs(n) || c == "." || c == ".." || strings.HasPrefix(c, "../") || strings.ContainsRune(n, 0) {
		return fmt.Errorf("manifest.json names %q, which is not a file inside the archive", n)
	}
	return nil
}
