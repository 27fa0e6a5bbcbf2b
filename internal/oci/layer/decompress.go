package layer

import (
	"fmt"
	"hash"
	"io"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// CompressionOf is the compression of a layer media type: only a blob of
// the compression asked for is reused.
func CompressionOf(mt types.MediaType) Compression {
	switch mt {
	case types.OCILayer, types.DockerLayer:
		return Gzip
	case types.OCILayerZStd:
		return Zstd
	}
	return ""
}

// DecompressInto decompresses r with c into w, stopping one byte past
// limit: n > limit means there was more.
func DecompressInto(w io.Writer, r io.Reader, c Compression, limit int64) (int64, error) {
	var zr io.ReadCloser
	switch c {
	case Gzip:
		// Every member, as a runtime reads it (RFC 1952 §2.2): its diffID
		// is of them all.
		gr, err := pgzip.NewReader(r)
		if err != nil {
			return 0, err
		}
		zr = gr
	case Zstd:
		// A frame's window is memory the decoder holds. Beyond the 8 MiB
		// every decoder must support (RFC 8878 §3.1.1.1.2), a window
		// larger than the whole tar is not asked for by that
		zd, err := zstd.NewReader(r, zstd.WithDecoderMaxWindow(uint64(max(8<<20, min(limit, 1<<29)))))
		if err != nil {
			return 0, err
		}
		zr = zd.IOReadCloser()
	default:
		return 0, fmt.Errorf("compression %q", c)
	}
	defer zr.Close() //nolint:errcheck // read-only
	// Short of limit+1, the decompressor reached its end, where a gzip
	// member's checksum is checked.
	return io.CopyBuffer(w, io.LimitReader(zr, limit+1), make([]byte, 256<<10))
}

// HashingReader hashes and counts what is read through it, and keeps the
// first error of the underlying reader apart from the decompressor's.
type HashingReader struct {
	R   io.Reader
	H   hash.Hash
	N   int64
	Err error
}

func (h *HashingReader) Read(p []byte) (int, error) {
	n, err := h.R.Read(p)
	h.H.Write(p[:n]) //nolint:errcheck // hash.Hash.Write never fails
	h.N += int64(n)
	if err != nil && err != io.EOF && h.Err == nil {
		h.Err = err
	}
	return n, err
}
