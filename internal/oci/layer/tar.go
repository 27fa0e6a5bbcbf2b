package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ErrChanged means the files of a layer changed after they were planned or
// between two builds of the same layer, so the layer cannot be reproduced.
var ErrChanged = errors.New("layer files changed while building")

// copyBufferSize is the read buffer per file copy; with the compressor's
// blocks it bounds the memory a layer stream needs, whatever its size.
const copyBufferSize = 128 << 10

// writeTar walks files and writes their entries as a tar stream. Headers carry only
// what reproducibility allows: path, type, mode, size, link target, mtime
// (created, whole seconds), uid/gid 0 and the names root/root. No atime,
// ctime, xattrs or names looked up on this machine. FormatPAX is set so Go
// never switches to GNU format; PAX records appear only for values USTAR
// cannot hold (long paths, large sizes, times before 1970), and Go names their
// headers deterministically.
func writeTar(w io.Writer, files []File, mtime time.Time) error {
	tw := tar.NewWriter(w)
	buf := make([]byte, copyBufferSize)
	err := walk(files, func(e *entry) error {
		hdr := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			ModTime: mtime,
			Uname:   "root",
			Gname:   "root",
			Format:  tar.FormatPAX,
		}
		switch e.kind {
		case kindDir:
			hdr.Typeflag, hdr.Name = tar.TypeDir, e.name+"/"
		case kindSymlink:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.link
		case kindHardlink:
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, e.link
		case kindFile:
			hdr.Typeflag, hdr.Size = tar.TypeReg, e.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing tar header for /%s: %w", e.name, err)
		}
		if e.kind == kindFile {
			return copyFile(tw, e, buf)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing tar stream: %w", err)
	}
	return nil
}

// copyFile copies exactly the size of e seen by the walk; a file that changed
// type or size since then fails with ErrChanged instead of producing a tar
// whose header and content disagree.
func copyFile(w io.Writer, e *entry, buf []byte) error {
	f, err := os.Open(e.src)
	if err != nil {
		return fmt.Errorf("opening %s: %w", e.src, err)
	}
	defer f.Close() //nolint:errcheck // read-only; read errors are checked below
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", e.src, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() != e.size {
		return fmt.Errorf("%s: %w (%d bytes when listed, now %d bytes, %s)", e.src, ErrChanged, e.size, fi.Size(), fi.Mode().Type())
	}
	n, err := io.CopyBuffer(w, io.LimitReader(onlyReader{f}, e.size), buf)
	if err != nil {
		return fmt.Errorf("copying %s: %w", e.src, err)
	}
	if n != e.size {
		return fmt.Errorf("%s: %w (%d bytes when listed, read %d)", e.src, ErrChanged, e.size, n)
	}
	return nil
}

// onlyReader hides *os.File's WriterTo so io.CopyBuffer uses our buffer
// instead of allocating its own.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
