package layer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// Compression is a layer compression: Gzip or Zstd.
type Compression string

const (
	// Gzip compresses layers as application/vnd.oci.image.layer.v1.tar+gzip.
	Gzip Compression = "gzip"
	// Zstd compresses layers as application/vnd.oci.image.layer.v1.tar+zstd.
	Zstd Compression = "zstd"
)

// ParseCompression parses the `compression` input; empty means Gzip.
func ParseCompression(s string) (Compression, error) {
	switch Compression(s) {
	case "", Gzip:
		return Gzip, nil
	case Zstd:
		return Zstd, nil
	}
	return "", inputErrorf("compression %q: want gzip or zstd", s)
}

// MediaType is the OCI layer media type for the compression.
func (c Compression) MediaType() types.MediaType {
	if c == Zstd {
		return types.OCILayerZStd
	}
	return types.OCILayer
}

// gzipBlockSize is the pgzip block size. Block boundaries depend only on the
// byte count (pgzip cuts a block every gzipBlockSize bytes and we never call
// Flush), and each block is deflated with the previous block's tail as its
// dictionary, so the output is the same however the blocks are scheduled and
// however many run at once. Changing it changes every gzip digest.
const gzipBlockSize = 1 << 20

type options struct {
	compression Compression
	level       int // 0: the compression's default
	created     time.Time
	concurrency int
}

// Option configures NewBuilder.
type Option func(*options) error

// WithCompression sets the compression and its level. Level 0 means the
// default: gzip 2 (accepts 1–9), zstd 3 (accepts 1–22, mapped to
// klauspost/compress's four encoder speeds). Default: gzip at level 0.
func WithCompression(c Compression, level int) Option {
	return func(o *options) error {
		if err := c.CheckLevel(level); err != nil {
			return err
		}
		o.compression, o.level = c, level
		return nil
	}
}

// CheckLevel reports whether level (0 for the default) is valid for c; the
// error wraps ErrInput.
func (c Compression) CheckLevel(level int) error {
	switch c {
	case Gzip:
		if level < 0 || level > 9 {
			return inputErrorf("compression-level %d: gzip accepts 1 to 9", level)
		}
	case Zstd:
		if level < 0 || level > 22 {
			return inputErrorf("compression-level %d: zstd accepts 1 to 22", level)
		}
	default:
		return inputErrorf("compression %q: want gzip or zstd", c)
	}
	return nil
}

// WithCreated sets the modification time of every tar entry; it is truncated
// to whole seconds so it fits a plain USTAR header. Default: the Unix epoch.
func WithCreated(t time.Time) Option {
	return func(o *options) error {
		o.created = t
		return nil
	}
}

// WithConcurrency sets how many gzip blocks are compressed at once and
// whether zstd compresses asynchronously (n > 1). The output is the same for
// every n; only speed and memory (about 2 MiB per gzip block) change.
// Default: GOMAXPROCS, at most 8.
func WithConcurrency(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("concurrency %d: must be at least 1", n)
		}
		o.concurrency = n
		return nil
	}
}

// sums are what a full read of a layer reveals.
type sums struct {
	digest, diffID v1.Hash
	size           int64
}

// Builder builds one layer from local files, as many times as asked: every
// Layer call returns a layer that streams the files again, so a failed
// upload can be retried. Once any of them has been read to the end, the
// digest, diffID and size are remembered, and every layer of this Builder
// reports them, letting the pusher HEAD or mount the blob instead of
// compressing again. A Builder is safe for concurrent use.
type Builder struct {
	files []File
	// open, when set, gives the layer's tar instead of the files (FromTar);
	// key then identifies it.
	open func() (io.ReadCloser, error)
	key  string
	o    options

	diffMu sync.Mutex
	diffID *v1.Hash // given (FromTar) or hashed by DiffID

	mu    sync.Mutex
	known *sums

	filesOnce   sync.Once
	fileDigests []FileDigest // FileDigests
	filesErr    error
}

// NewBuilder returns a Builder for r. If r was not made by Expand, the files
// are walked and checked now. Nothing of the walk is kept: each build
// walks the files again, in the same order.
func NewBuilder(r Resolved, opts ...Option) (*Builder, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if !r.checked {
		if len(r.Files) == 0 {
			return nil, inputErrorf("layer has no files")
		}
		if err := walk(r.Files, nil); err != nil {
			return nil, err
		}
	}
	return &Builder{files: r.Files, o: o}, nil
}

// FromTar returns a Builder of the layer whose tar stream open returns,
// such as an uncompressed layer of a docker archive, so that it is
// compressed once, while it is uploaded. key identifies the tar (Key
// adds the options), diffID is its digest as its image's config names it
// (zero when not known yet); WithCreated does not apply.
func FromTar(key string, diffID v1.Hash, open func() (io.ReadCloser, error), opts ...Option) (*Builder, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	b := &Builder{open: open, key: key, o: o}
	if diffID != (v1.Hash{}) {
		b.diffID = &diffID
	}
	return b, nil
}

// DiffID is the digest of the layer's tar: given to FromTar, else known
// from an earlier build, else the tar is made and hashed now, without
// compressing (from files: one read of every file).
func (b *Builder) DiffID() (v1.Hash, error) {
	b.diffMu.Lock()
	defer b.diffMu.Unlock()
	if b.diffID != nil {
		return *b.diffID, nil
	}
	if s, ok := b.sums(); ok {
		return s.diffID, nil
	}
	d, _, err := b.hashTar()
	if err != nil {
		return v1.Hash{}, err
	}
	b.diffID = &d
	return d, nil
}

// HashTar makes the layer's tar now, without compressing (from files: one
// read of every file), and returns its digest and size: the diffID its
// bytes give, never the one FromTar was given, for a caller that must not
// take an image config's word for it. A Builder without a diffID keeps
// the one hashed for DiffID.
func (b *Builder) HashTar() (v1.Hash, int64, error) {
	d, n, err := b.hashTar()
	if err != nil {
		return v1.Hash{}, 0, err
	}
	b.diffMu.Lock()
	defer b.diffMu.Unlock()
	if b.diffID == nil {
		b.diffID = &d
	}
	return d, n, nil
}

// hashTar hashes and counts the layer's tar.
func (b *Builder) hashTar() (v1.Hash, int64, error) {
	c := &hashCounter{h: sha256.New(), w: io.Discard}
	if err := b.writeTar(c); err != nil {
		return v1.Hash{}, 0, err
	}
	return toHash(c.h), c.n, nil
}

// Compression is the compression of the layers this Builder makes.
func (b *Builder) Compression() Compression { return b.o.compression }

func newOptions(opts []Option) (options, error) {
	o := options{compression: Gzip, created: time.Unix(0, 0).UTC(), concurrency: min(runtime.GOMAXPROCS(0), 8)}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return options{}, err
		}
	}
	if o.level == 0 {
		o.level = DefaultLevel(o.compression)
	}
	o.created = time.Unix(o.created.Unix(), 0).UTC()
	return o, nil
}

// DefaultLevel is the level a compression gets when none is given: gzip
// 2, zstd 3. On a CI runner's few cores compression is what a push
// waits on, and gzip 2 costs about level 1's CPU for close to level 6's
// size (docs/benchmarks.md, "The gzip level"). Changing it changes every
// gzip layer digest.
func DefaultLevel(c Compression) int {
	if c == Zstd {
		return 3
	}
	return 2
}

// writeTar writes the layer's tar stream into w.
func (b *Builder) writeTar(w io.Writer) error {
	if b.open == nil {
		return writeTar(w, b.files, b.o.created)
	}
	rc, err := b.open()
	if err != nil {
		return fmt.Errorf("opening layer %s: %w", b.key, err)
	}
	defer rc.Close() //nolint:errcheck // read-only
	if _, err := io.CopyBuffer(w, onlyReader{rc}, make([]byte, copyBufferSize)); err != nil {
		return fmt.Errorf("reading layer %s: %w", b.key, err)
	}
	return nil
}

// Key identifies the layer this Builder makes: the files and every option
// that changes its bytes. Equal keys mean equal layers.
func (b *Builder) Key() string {
	h := sha256.New()
	if b.open != nil {
		fmt.Fprintf(h, "%s\x00%d\x00tar\x00%s", b.o.compression, b.o.level, b.key)
		return hex.EncodeToString(h.Sum(nil))
	}
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s", b.o.compression, b.o.level, b.o.created.Unix(), Resolved{Files: b.files}.Key())
	return hex.EncodeToString(h.Sum(nil))
}

// MediaType is the media type of the layers this Builder makes.
func (b *Builder) MediaType() types.MediaType { return b.o.compression.MediaType() }

// Layer returns a streaming layer. Its Digest, DiffID and Size return
// stream.ErrNotComputed until some layer of this Builder has been read to
// the end: remote.Write and layout.Write take that error to mean "stream
// it, then ask again".
func (b *Builder) Layer() (v1.Layer, error) {
	return &streamLayer{b: b}, nil
}

func (b *Builder) sums() (sums, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.known == nil {
		return sums{}, false
	}
	return *b.known, true
}

// record remembers s, or fails with ErrChanged if an earlier build differed.
func (b *Builder) record(s sums) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.known == nil {
		b.known = &s
		return nil
	}
	if *b.known != s {
		return fmt.Errorf("%w: layer rebuilt as %s, first built as %s", ErrChanged, s.digest, b.known.digest)
	}
	return nil
}

// writeCompressed streams the tar through the compressor into w and returns
// the sums; it touches each file once and holds only fixed-size buffers.
func (b *Builder) writeCompressed(w io.Writer) (sums, error) {
	cw := &hashCounter{h: sha256.New(), w: w}
	zw, err := b.newCompressor(cw)
	if err != nil {
		return sums{}, err
	}
	diff := sha256.New()
	werr := b.writeTar(io.MultiWriter(diff, zw))
	cerr := zw.Close()
	if werr != nil {
		return sums{}, werr
	}
	if cerr != nil {
		return sums{}, fmt.Errorf("closing %s compressor: %w", b.o.compression, cerr)
	}
	return sums{digest: toHash(cw.h), diffID: toHash(diff), size: cw.n}, nil
}

// writeUncompressed streams the tar into w and returns its diffID.
func (b *Builder) writeUncompressed(w io.Writer) (v1.Hash, error) {
	diff := sha256.New()
	if err := b.writeTar(io.MultiWriter(w, diff)); err != nil {
		return v1.Hash{}, err
	}
	return toHash(diff), nil
}

func (b *Builder) newCompressor(w io.Writer) (io.WriteCloser, error) {
	if b.o.compression == Zstd {
		zw, err := zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(b.o.level)),
			zstd.WithEncoderConcurrency(b.o.concurrency))
		if err != nil {
			return nil, fmt.Errorf("creating zstd encoder: %w", err)
		}
		return zw, nil
	}
	zw, err := pgzip.NewWriterLevel(w, b.o.level)
	if err != nil {
		return nil, fmt.Errorf("creating gzip writer: %w", err)
	}
	if err := zw.SetConcurrency(gzipBlockSize, b.o.concurrency); err != nil {
		return nil, fmt.Errorf("configuring gzip writer: %w", err)
	}
	// A zero ModTime would be written as a wrapped negative number; the
	// epoch is written as 0, "no time", like compress/gzip does.
	zw.ModTime = time.Unix(0, 0)
	return zw, nil
}

func toHash(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// hashCounter hashes and counts the bytes on their way to w.
type hashCounter struct {
	h hash.Hash
	w io.Writer
	n int64
}

func (c *hashCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n]) //nolint:errcheck // hash.Hash.Write never fails
	c.n += int64(n)
	return n, err
}
