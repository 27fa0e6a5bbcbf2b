package layer

import (
	"fmt"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// streamLayer is a v1.Layer whose bytes are produced while they are read.
// Unlike stream.Layer it can be read any number of times (each read walks
// the files again): a failed upload of it is sent again from the files,
// as a new request body (http.Request.GetBody) or in a new upload
// session, where a stream.Layer fails with stream.ErrConsumed
// (TestPushStreaming).
type streamLayer struct {
	b *Builder
}

var _ v1.Layer = (*streamLayer)(nil)

// Digest implements v1.Layer; stream.ErrNotComputed until a full read.
func (l *streamLayer) Digest() (v1.Hash, error) {
	s, ok := l.b.sums()
	if !ok {
		return v1.Hash{}, stream.ErrNotComputed
	}
	return s.digest, nil
}

// DiffID implements v1.Layer; stream.ErrNotComputed until a full read.
func (l *streamLayer) DiffID() (v1.Hash, error) {
	s, ok := l.b.sums()
	if !ok {
		return v1.Hash{}, stream.ErrNotComputed
	}
	return s.diffID, nil
}

// Size implements v1.Layer; stream.ErrNotComputed until a full read.
func (l *streamLayer) Size() (int64, error) {
	s, ok := l.b.sums()
	if !ok {
		return 0, stream.ErrNotComputed
	}
	return s.size, nil
}

// MediaType implements v1.Layer.
func (l *streamLayer) MediaType() (types.MediaType, error) {
	return l.b.MediaType(), nil
}

// Compressed implements v1.Layer. The digests are recorded before the reader
// returns io.EOF, so a consumer that has read to the end can ask for them at
// once, as a writer must to close the upload with the blob's digest
// (distribution-spec "POST then PUT", <location>?digest=<digest>,
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#post-then-put).
func (l *streamLayer) Compressed() (io.ReadCloser, error) {
	return startPipe(func(w io.Writer) error {
		s, err := l.b.writeCompressed(w)
		if err != nil {
			return err
		}
		return l.b.record(s)
	}), nil
}

// Uncompressed implements v1.Layer: the tar stream, checked against the
// diffID if it is already known.
func (l *streamLayer) Uncompressed() (io.ReadCloser, error) {
	return startPipe(func(w io.Writer) error {
		diffID, err := l.b.writeUncompressed(w)
		if err != nil {
			return err
		}
		if s, ok := l.b.sums(); ok && s.diffID != diffID {
			return fmt.Errorf("%w: tar rebuilt as %s, first built as %s", ErrChanged, diffID, s.diffID)
		}
		return nil
	}), nil
}

// startPipe runs produce in a goroutine writing into a pipe. Its error, or
// io.EOF after success, reaches the reader. Closing the reader early stops
// produce at its next write and waits for it, so no goroutine or open file
// outlives Close.
func startPipe(produce func(io.Writer) error) io.ReadCloser {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(produce(pw)) //nolint:errcheck // PipeWriter.CloseWithError always returns nil
	}()
	return &pipeReader{pr: pr, done: done}
}

type pipeReader struct {
	pr   *io.PipeReader
	done chan struct{}
	once sync.Once
}

func (r *pipeReader) Read(p []byte) (int, error) { return r.pr.Read(p) }

// Close stops the producer if it is still running and waits for it. It
// returns nil: closing before the end is how a consumer cancels.
func (r *pipeReader) Close() error {
	r.once.Do(func() {
		r.pr.CloseWithError(io.ErrClosedPipe) //nolint:errcheck // always nil
		<-r.done
	})
	return nil
}
