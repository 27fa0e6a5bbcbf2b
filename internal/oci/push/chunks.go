package push

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// MaxChunk is the largest PATCH body sent with Content-Range: GHCR
// refuses one over 4 MiB with 416 (oras-project/rust-oci-client#35,
// ocx-sh/ocx#237). Chunks are sent only to a registry that refused the
// streamed PATCH: ECR wants parts of at least 5 MB
// (dotnet/sdk-container-builds#424) and takes the stream.
const MaxChunk = 4 << 20

const humanChunk = "4 MiB"

// uploadChunks is one upload session that sends l in chunks of at most
// MaxChunk, each with its Content-Range ("Pushing a blob in chunks",
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-a-blob-in-chunks).
// Each chunk is held in memory, so a chunk refused for a moment is sent
// again by the retry transport.
func (w *Writer) uploadChunks(ctx context.Context, l v1.Layer) error {
	loc, err := w.startUpload(ctx)
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	buf := make([]byte, MaxChunk)
	var off int64
	for {
		n, rerr := io.ReadFull(rc, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return rerr
		}
		if n > 0 {
			if loc, err = w.patchChunk(ctx, loc, buf[:n], off); err != nil {
				return err
			}
			off += int64(n)
		}
		if rerr != nil {
			break
		}
	}
	d, err := l.Digest()
	if err != nil {
		return fmt.Errorf("the layer's digest after sending it: %w", err)
	}
	_, err = w.send(ctx, http.MethodPut, withDigest(loc, d), 0, nil, http.StatusCreated)
	return err
}

// patchChunk sends chunk, which starts at off, and returns where the
// next request goes.
func (w *Writer) patchChunk(ctx context.Context, loc string, chunk []byte, off int64) (string, error) {
	body := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(chunk)), nil }
	req, err := w.request(ctx, http.MethodPatch, loc, int64(len(chunk)), body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", off, off+int64(len(chunk))-1))
	resp, err := w.do(req, http.StatusNoContent, http.StatusAccepted, http.StatusCreated)
	if err != nil {
		return "", err
	}
	return nextLocation(resp)
}

// uploadWhole is one upload session that sends l in the PUT that closes
// it ("monolithic" upload), a plain POST before it.
func (w *Writer) uploadWhole(ctx context.Context, l v1.Layer) error {
	d, err := l.Digest()
	if err != nil {
		return err
	}
	size, err := l.Size()
	if err != nil {
		return err
	}
	_, err = w.uploadBlob(ctx, l, d, size, name.Repository{}, false)
	return err
}

// isStatus reports whether err is a registry's answer with status to a
// request of method.
func isStatus(err error, method string, status int) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == status && te.Request != nil && te.Request.Method == method
}

// storedOtherBytes reports whether err is the registry refusing the PUT
// that closes an upload because what it holds does not match the digest
// or size named (distribution-spec "Error Codes": DIGEST_INVALID,
// SIZE_INVALID; BLOB_UPLOAD_INVALID).
func storedOtherBytes(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) || te.Request == nil || te.Request.Method != http.MethodPut {
		return false
	}
	for _, d := range te.Errors {
		switch d.Code {
		case transport.DigestInvalidErrorCode, transport.SizeInvalidErrorCode, transport.BlobUploadInvalidErrorCode:
			return true
		}
	}
	return false
}
