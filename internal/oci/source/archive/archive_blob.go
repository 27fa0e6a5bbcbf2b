package archive

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
)

// archiveBlob is a layer stored compressed in the archive: sent as it is.
// Its digest and diffID are hashed from it once, in one read that
// decompresses it (check): the archive's config says what the diffID
// must be (image spec v1.2, "layer_id"/"diff_ids"), and a layer that is
// not what it says is refused before anything names it.
type archiveBlob struct {
	name string // in the archive, for messages
	s    *io.SectionReader
	mt   types.MediaType

	once           sync.Once
	digest, diffID v1.Hash
	err            error
}

var _ v1.Layer = (*archiveBlob)(nil)

// check hashes the blob and its content once, decompressing no more than
// maxLayerExpansion times its size.
func (l *archiveBlob) check(ctx context.Context) error {
	l.once.Do(func() {
		ch, dh := sha256.New(), sha256.New()
		cr := &layer.HashingReader{R: ctxReader{ctx: ctx, r: io.NewSectionReader(l.s, 0, l.s.Size())}, H: ch}
		limit := ExpansionFloor + maxLayerExpansion*l.s.Size()
		n, err := layer.DecompressInto(dh, cr, layer.CompressionOf(l.mt), limit)
		switch {
		case cr.Err != nil:
			err = cr.Err
		case err != nil:
			err = fmt.Errorf("layer %q: decompressing: %w: %w", l.name, ErrMismatch, err)
		case n > limit:
			err = fmt.Errorf("layer %q of %d bytes expands to more than %d: %w", l.name, l.s.Size(), limit, ErrLimit)
		default:
			_, err = io.Copy(io.Discard, cr)
		}
		if err != nil {
			l.err = err
			return
		}
		l.digest = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", ch.Sum(nil))}
		l.diffID = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", dh.Sum(nil))}
	})
	return l.err
}

func (l *archiveBlob) Digest() (v1.Hash, error) {
	err := l.check(context.Background())
	return l.digest, err
}

func (l *archiveBlob) DiffID() (v1.Hash, error) {
	err := l.check(context.Background())
	return l.diffID, err
}

func (l *archiveBlob) Size() (int64, error)                { return l.s.Size(), nil }
func (l *archiveBlob) MediaType() (types.MediaType, error) { return l.mt, nil }
func (l *archiveBlob) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(io.NewSectionReader(l.s, 0, l.s.Size())), nil
}
func (l *archiveBlob) Uncompressed() (io.ReadCloser, error) {
	return nil, errors.New("reading an archive's compressed layer uncompressed is not supported")
}
