package reuse

import (
	"context"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
)

// A target's previous image is the registry's word, and so is its config:
// a config may name the diffID of a layer we build while its manifest
// points at a blob holding other files. Publishing that blob under our
// layer would ship those files. So a blob is reused only once it is
// proven to be the layer: its bytes hash to its digest, and decompressed
// they hash to the diffID of the tar we would otherwise build (OCI
// image-spec config.md, "rootfs.diff_ids": the digest of the uncompressed
// layer). One streaming read does both.

// ErrNotTheLayer is a blob that is not the layer its image's config says
// it is.
var ErrNotTheLayer = errors.New("blob is not the layer its image's config names")

// maxReuseTries bounds how many blobs of one diffID are checked: past a
// blob that failed its proof, building the layer costs less than fetching
// more of what the same registry offers.
const maxReuseTries = 2

// maxBlobFor is the largest blob worth checking for a tar of tarSize
// bytes. Gzip and zstd store incompressible data in blocks with a few
// bytes of framing (RFC 1951 §3.2.4: 5 bytes per stored block of up to
// 64 KiB; RFC 8878 §3.1.1.2: 3 bytes per raw block of up to 128 KiB), so
// a real compressed layer is never more than a little larger than its
// tar; a blob larger by a sixteenth is not that layer.
func maxBlobFor(tarSize int64) int64 { return tarSize + tarSize/16 + 64<<10 }

// worthChecking refuses, before it is read, a blob whose size cannot be
// that of a compressed tar of tarSize bytes.
func worthChecking(want v1.Descriptor, tarSize int64) error {
	if want.Size < 0 || want.Size > maxBlobFor(tarSize) {
		return fmt.Errorf("%w: %d bytes for a tar of %d", ErrNotTheLayer, want.Size, tarSize)
	}
	return nil
}

// VerifyBlob reads a compressed blob once and reports whether it is
// want.Digest (want.Size bytes) and decompresses with c into the tar
// whose digest is diffID and whose size is tarSize. Nothing past what
// those sizes allow is read or decompressed. A mismatch wraps
// errNotTheLayer; an error reading r is returned as it is.
func VerifyBlob(r io.Reader, c layer.Compression, want v1.Descriptor, diffID v1.Hash, tarSize int64) error {
	if err := worthChecking(want, tarSize); err != nil {
		return err
	}
	ch, err := v1.Hasher(want.Digest.Algorithm)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotTheLayer, err)
	}
	dh, err := v1.Hasher(diffID.Algorithm)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotTheLayer, err)
	}
	cr := &layer.HashingReader{R: io.LimitReader(r, want.Size+1), H: ch}
	n, err := layer.DecompressInto(dh, cr, c, tarSize)
	if cr.Err != nil {
		return cr.Err
	}
	if err != nil {
		return fmt.Errorf("%w: decompressing: %v", ErrNotTheLayer, err)
	}
	// The decompressor may stop before the end of the blob; the rest is
	// hashed too, since the digest covers every byte.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return err
	}
	switch got := (v1.Hash{Algorithm: want.Digest.Algorithm, Hex: fmt.Sprintf("%x", ch.Sum(nil))}); {
	case cr.N != want.Size:
		return fmt.Errorf("%w: %d bytes or more, its manifest says %d", ErrNotTheLayer, cr.N, want.Size)
	case got != want.Digest:
		return fmt.Errorf("%w: its bytes hash to %s", ErrNotTheLayer, got)
	}
	if n > tarSize {
		return fmt.Errorf("%w: it decompresses to more than the %d bytes of the layer", ErrNotTheLayer, tarSize)
	}
	if got := (v1.Hash{Algorithm: diffID.Algorithm, Hex: fmt.Sprintf("%x", dh.Sum(nil))}); got != diffID {
		return fmt.Errorf("%w: it decompresses to %s", ErrNotTheLayer, got)
	}
	return nil
}

// proofKey is one blob checked against one diffID.
type proofKey struct{ digest, diffID v1.Hash }

// proof is the result of checking one blob, shared by every layer that
// asks for it.
type proof struct {
	done chan struct{}
	err  error
}

// prove fetches p's blob and checks that it is the layer diffID names
// (verifyBlob); each blob is fetched once for every layer that asks.
func (r *Prior) prove(ctx context.Context, p priorLayer, c layer.Compression, diffID v1.Hash, tarSize int64) error {
	k := proofKey{p.desc.Digest, diffID}
	r.mu.Lock()
	if r.proofs == nil {
		r.proofs = map[proofKey]*proof{}
	}
	pr, ok := r.proofs[k]
	if !ok {
		pr = &proof{done: make(chan struct{})}
		r.proofs[k] = pr
	}
	r.mu.Unlock()
	if ok {
		select {
		case <-pr.done:
			return pr.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer close(pr.done)
	pr.err = r.fetchAndVerify(ctx, p, c, diffID, tarSize)
	return pr.err
}

func (r *Prior) fetchAndVerify(ctx context.Context, p priorLayer, c layer.Compression, diffID v1.Hash, tarSize int64) error {
	if err := worthChecking(p.desc, tarSize); err != nil {
		return err
	}
	rc, err := r.c.Blob(ctx, p.repo, p.desc.Digest)
	if err != nil {
		return err
	}
	defer rc.Close() //nolint:errcheck // read-only
	return VerifyBlob(rc, c, p.desc, diffID, tarSize)
}
