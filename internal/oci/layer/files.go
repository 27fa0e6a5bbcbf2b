package layer

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// FileDigest is a regular file of a layer: its path in the image, without
// a leading slash, and the sha256 of its content.
type FileDigest struct {
	Path   string
	SHA256 v1.Hash
}

// FileDigests builds the layer's tar once more and reads it back, giving
// each regular file it holds with the sha256 of its content, in tar order:
// what an SBOM lists. It reads the files (or the tar FromTar was given)
// again, as every build does, on the first call only: an SBOM and the
// provenance of a layer several platforms share ask for it more than once.
func (b *Builder) FileDigests() ([]FileDigest, error) {
	b.filesOnce.Do(func() { b.fileDigests, b.filesErr = b.hashFiles() })
	return slices.Clone(b.fileDigests), b.filesErr
}

func (b *Builder) hashFiles() ([]FileDigest, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(b.writeTar(pw)) }()
	defer pr.Close() //nolint:errcheck // read side; closing it stops the writer
	var out []FileDigest
	tr := tar.NewReader(pr)
	buf := make([]byte, copyBufferSize)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing the files of layer %s: %w", b.Key(), err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		h := sha256.New()
		if _, err := io.CopyBuffer(h, tr, buf); err != nil {
			return nil, fmt.Errorf("hashing %s of layer %s: %w", hdr.Name, b.Key(), err)
		}
		out = append(out, FileDigest{
			Path:   path.Clean("/" + hdr.Name)[1:],
			SHA256: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))},
		})
	}
}
