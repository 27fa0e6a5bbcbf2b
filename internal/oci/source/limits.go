package source

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/oci-assemble/oci-assemble/internal/oci/plan"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/oci-assemble/oci-assemble/internal/platform"
)

// Bounds on what a source may make the join read. A source (a registry,
// an OCI layout) is data the user did not write; none of these is near
// what a real image needs.
const (
	// MaxManifestSize bounds a manifest or index read into memory: the
	// distribution spec asks registries to accept manifests of at least
	// 4 MiB and lets them refuse larger ones
	// (https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-manifests).
	// It also bounds a layout's index.json.
	MaxManifestSize = 4 << 20
	// MaxConfigSize bounds an image config read into memory; configs of
	// images with hundreds of layers and a long history are well under
	// 1 MiB.
	MaxConfigSize = 8 << 20
	// maxIndexDepth bounds the nesting of indexes below a source: buildx
	// and BuildKit write one level, an index of indexes is two.
	maxIndexDepth = 8
	// MaxDescriptors bounds the descriptors one walk of a source's index
	// tree reads, nested indexes and index.json included.
	MaxDescriptors = 10000
)

// ErrOverLimit is wrapped by errors about a source that passes one of the
// bounds above.
var ErrOverLimit = errors.New("over the limit")

// ErrMismatch is wrapped by errors about content that does not match the
// digest or size its descriptor gives.
var ErrMismatch = errors.New("content does not match its descriptor")

// CheckSize refuses a blob its descriptor says is larger than limit, or
// that has a negative size, before any of it is read.
func CheckSize(what string, d v1.Descriptor, limit int64) error {
	switch {
	case d.Size < 0:
		return fmt.Errorf("%s %s: size %d: %w", what, d.Digest, d.Size, ErrMismatch)
	case d.Size > limit:
		return fmt.Errorf("%s %s is %d bytes, more than the %d allowed: %w", what, d.Digest, d.Size, limit, ErrOverLimit)
	}
	return nil
}

// CheckManifestSize refuses a manifest read whole from a registry that
// is larger than maxManifestSize.
func CheckManifestSize(what string, raw []byte) error {
	if len(raw) > MaxManifestSize {
		return fmt.Errorf("%s is %d bytes, more than the %d allowed for a manifest: %w", what, len(raw), MaxManifestSize, ErrOverLimit)
	}
	return nil
}

// verifyingReader reads a blob and fails unless its bytes are exactly
// the size and digest its descriptor gives: a content-addressed read
// (image-spec "Descriptors", "Digests"). The digest is checked as soon
// as size bytes are read, a byte past the size fails, and so does EOF
// before it.
type verifyingReader struct {
	rc   io.ReadCloser
	r    io.Reader // rc, limited to size+1 bytes
	h    hash.Hash
	want v1.Hash
	size int64
	n    int64
	// checked is set once size bytes were read and matched the digest.
	checked bool
	err     error
}

var _ io.ReadCloser = (*verifyingReader)(nil)

func NewVerifyingReader(rc io.ReadCloser, want v1.Hash, size int64) (*verifyingReader, error) {
	h, err := v1.Hasher(want.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", want, err)
	}
	return &verifyingReader{rc: rc, r: io.LimitReader(rc, size+1), h: h, want: want, size: size}, nil
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.read(p)
	if err != nil && err != io.EOF {
		v.err = err // a mismatch stays one
	}
	return n, err
}

func (v *verifyingReader) read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.n += int64(n)
	v.h.Write(p[:n])
	if v.n > v.size {
		return n, fmt.Errorf("blob %s holds more than the %d bytes its descriptor gives: %w", v.want, v.size, ErrMismatch)
	}
	if v.n == v.size && !v.checked {
		// All the bytes the descriptor gives: they must be the ones it
		// names, whether or not the reader goes on to EOF.
		v.checked = true
		if got := (v1.Hash{Algorithm: v.want.Algorithm, Hex: hex.EncodeToString(v.h.Sum(nil))}); got != v.want {
			return n, fmt.Errorf("blob %s holds content with digest %s: %w", v.want, got, ErrMismatch)
		}
	}
	if err == io.EOF && v.n != v.size {
		return n, fmt.Errorf("blob %s holds %d bytes, its descriptor gives %d: %w", v.want, v.n, v.size, ErrMismatch)
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

// Walk bounds one walk of a source's index tree: its depth, the
// descriptors it reads, the indexes it has entered (an index listed
// twice is entered once), and the caller's context.
type Walk struct {
	ctx         context.Context
	what        string // the source, for errors
	descriptors int
	seen        map[v1.Hash]bool
}

// NewWalk starts a walk of the source what.
func NewWalk(ctx context.Context, what string) *Walk {
	return &Walk{ctx: ctx, what: what, seen: map[v1.Hash]bool{}}
}

// Index counts the n descriptors of an index at depth (the source's own
// index is depth 0) and checks the bounds and the context.
func (w *Walk) Index(depth, n int) error {
	if err := w.ctx.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", w.what, err)
	}
	if depth > maxIndexDepth {
		return fmt.Errorf("%s nests indexes more than %d deep: %w", w.what, maxIndexDepth, ErrOverLimit)
	}
	w.descriptors += n
	if w.descriptors > MaxDescriptors {
		return fmt.Errorf("%s lists more than %d descriptors in its indexes: %w", w.what, MaxDescriptors, ErrOverLimit)
	}
	return nil
}

// Enter reports whether the index d is entered for the first time.
func (w *Walk) Enter(d v1.Hash) bool {
	if w.seen[d] {
		return false
	}
	w.seen[d] = true
	return true
}

// CheckChild checks an index's descriptor before anything it names is
// read: the walk is not cancelled, its platform passes platform.Check,
// and a manifest it names is within maxManifestSize.
func (w *Walk) CheckChild(src plan.Ref, d v1.Descriptor) error {
	if err := w.ctx.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", src, err)
	}
	if d.Platform != nil {
		if err := platform.Check(*d.Platform); err != nil {
			return fmt.Errorf("%w %s: child %s: %w", plan.ErrSource, src, d.Digest, err)
		}
	}
	if d.MediaType.IsIndex() || d.MediaType.IsImage() {
		if err := CheckSize("manifest", d, MaxManifestSize); err != nil {
			return fmt.Errorf("%w %s: %w", plan.ErrSource, src, err)
		}
	}
	return nil
}
