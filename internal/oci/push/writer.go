package push

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/oci-assemble/oci-assemble/internal/oci/stack"
)

// Writer writes blobs and manifests to one repository through one
// authenticated client. Get one from Pusher.Writer.
type Writer struct {
	o      *options
	repo   name.Repository
	client *http.Client
	// mountable are the repositories (of repo's registry) the token may
	// pull from, for mounts.
	mountable []string
	// counts are the repository's blob bytes by how they got there.
	counts *counters
}

// Manifest is what Put writes: a v1.Image, a v1.ImageIndex, or any
// manifest with its media type.
type Manifest interface {
	MediaType() (types.MediaType, error)
	RawManifest() ([]byte, error)
}

// Repo is the repository w writes to.
func (w *Writer) Repo() name.Repository { return w.repo }

func (w *Writer) covers(from []string) bool {
	for _, f := range from {
		if !slices.Contains(w.mountable, f) {
			return false
		}
	}
	return true
}

func (w *Writer) url(path string) *url.URL {
	return &url.URL{Scheme: w.repo.Scheme(), Host: w.repo.RegistryStr(), Path: "/v2/" + w.repo.RepositoryStr() + path}
}

// Holds reports whether l was read from (or staged in) w's repository
// itself, so it is there without a request.
func (w *Writer) Holds(l v1.Layer) bool {
	ml, ok := l.(*remote.MountableLayer)
	return ok && ml.Reference.Context().String() == w.repo.String()
}

// mountSource is the repository a layer can be mounted from: another
// repository of w's registry that it was read from, so holds it. There is
// none for a layer read elsewhere: a mount is asked only from a
// repository known to hold the blob.
func (w *Writer) mountSource(l v1.Layer) (name.Repository, bool) {
	ml, ok := l.(*remote.MountableLayer)
	if !ok {
		return name.Repository{}, false
	}
	from := ml.Reference.Context()
	if from.RegistryStr() != w.repo.RegistryStr() || from.String() == w.repo.String() {
		return name.Repository{}, false
	}
	return from, true
}

// WriteBlob makes sure l's blob is in w's repository. A layer the
// registry is not to hold (foreign layers) and a layer read from this
// very repository are left alone.
func (w *Writer) WriteBlob(ctx context.Context, l v1.Layer) error {
	d, err := l.Digest()
	if err != nil {
		return err
	}
	if mt, err := l.MediaType(); err == nil && !mt.IsDistributable() {
		return nil
	}
	size, err := l.Size()
	if err != nil {
		return err
	}
	if w.Holds(l) {
		w.count(&w.counts.reused, size)
		return nil
	}
	from, ok := w.mountSource(l)
	if !ok {
		there, err := w.hasBlob(ctx, d)
		if there {
			w.count(&w.counts.reused, size)
		}
		if err != nil || there {
			return err
		}
	}
	var mounted bool
	err = w.transfer(ctx, size, func() error {
		return w.o.sessions(ctx, func() (err error) {
			mounted, err = w.uploadBlob(ctx, l, d, size, from, ok)
			return err
		})
	})
	switch {
	case err != nil:
		return err
	case mounted:
		w.count(&w.counts.mounted, size)
	default:
		w.count(&w.counts.uploaded, size)
	}
	return nil
}

// transfer runs f, the transfer of size bytes, in one of the Pusher's
// transfer slots (WithTransfers), waiting for one or until ctx ends; a
// small blob takes none.
func (w *Writer) transfer(ctx context.Context, size int64, f func() error) error {
	if w.o.transfers == nil || size < SmallBlob {
		return f()
	}
	select {
	case w.o.transfers <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-w.o.transfers }()
	return f()
}

// count adds n to one of the repository's counters; a Writer made
// outside a Pusher counts nothing.
func (w *Writer) count(c *atomic.Int64, n int64) {
	if w.counts != nil {
		c.Add(n)
	}
}

// hasBlob asks whether w's repository holds the blob d ("checking if
// content exists in the registry", a HEAD of the blob): the existence
// check before a plain upload, as go-containerregistry's writer makes it.
// A mount cannot serve as one: registries that refuse mounts refuse a
// mount from the target itself too (Harbor 401, goharbor/harbor#17097;
// Docker Hub 403, goreleaser/goreleaser#5853).
func (w *Writer) hasBlob(ctx context.Context, d v1.Hash) (bool, error) {
	resp, err := w.send(ctx, http.MethodHead, w.url("/blobs/"+d.String()).String(), 0, nil, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		return false, nil
	}
	w.o.logger.Info("blob already there", "digest", d.String(), "in", w.repo.RepositoryStr())
	return true, nil
}

// uploadBlob is one upload session: with mount, a POST that asks to mount
// d from the repository from, else (or when the registry refuses the
// mount with an error) a plain POST without mount and from; then the PUT
// of the body unless the blob was mounted. It returns whether it was.
func (w *Writer) uploadBlob(ctx context.Context, l v1.Layer, d v1.Hash, size int64, from name.Repository, mount bool) (bool, error) {
	var (
		loc     string
		mounted bool
		err     error
	)
	if mount {
		loc, mounted, err = w.startMount(ctx, d, from)
		if err != nil {
			// A registry may refuse a mount it cannot serve with an error
			// instead of the spec's 202: upload without it.
			w.o.logger.Debug("mount refused; uploading", "digest", d.String(), "from", from.String(), "error", err)
		}
	}
	if !mount || err != nil {
		loc, err = w.startUpload(ctx)
	}
	if err != nil || mounted {
		return mounted, err
	}
	// The body is opened for each send: a PUT refused with a 401 for a
	// token that expired is sent again, and one cut is sent again by the
	// retry transport, each reading the blob afresh from where it is kept.
	body := l.Compressed
	ctx = stack.WithBlob(ctx, d.String(), size) // progress lines name it
	if size == 0 {
		body = func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	_, err = w.send(ctx, http.MethodPut, withDigest(loc, d), size, body, http.StatusCreated)
	return false, err
}

// Upload streams l, whose digest is learnt while it is read, to w's
// repository: POST, one PATCH with the whole stream and no Content-Range
// (as docker sends it, which registries that cap chunks accept), then the
// PUT that names the digest. l must be readable again for a session to be
// retried, and for the two ways round a registry's quirks:
//
//   - the streamed PATCH refused with 416 (GHCR refuses a PATCH over
//     4 MiB, "exceeds the maximum permissible limit",
//     oras-project/rust-oci-client#35): l is sent again in chunks of at
//     most MaxChunk with Content-Range;
//   - the PUT refused because the session holds other bytes than were
//     sent (DIGEST_INVALID, SIZE_INVALID, BLOB_UPLOAD_INVALID: ECR has
//     answered PATCHes 201 while dropping data,
//     aws/containers-roadmap#2831): l is sent again whole, in the PUT.
func (w *Writer) Upload(ctx context.Context, l v1.Layer) error {
	// A streamed layer's size is not known before it is sent: it takes a
	// slot.
	err := w.transfer(ctx, SmallBlob, func() error {
		return w.o.sessions(ctx, func() error {
			err := w.stream(ctx, l)
			switch {
			case isStatus(err, http.MethodPatch, http.StatusRequestedRangeNotSatisfiable):
				w.o.logger.Info("the registry refused the streamed upload as too large; sending it in chunks",
					"to", w.repo.String(), "chunk", humanChunk)
				return w.uploadChunks(ctx, l)
			case storedOtherBytes(err):
				w.o.logger.Warn("the registry stored other bytes than were sent; uploading the layer whole",
					"to", w.repo.String(), "error", err)
				return w.uploadWhole(ctx, l)
			}
			return err
		})
	})
	if err != nil {
		return err
	}
	// Streamed, the layer knows its size now.
	if size, err := l.Size(); err == nil {
		w.count(&w.counts.uploaded, size)
	}
	return nil
}

// stream is one streamed upload session.
func (w *Writer) stream(ctx context.Context, l v1.Layer) error {
	loc, err := w.startUpload(ctx)
	if err != nil {
		return err
	}
	resp, err := w.send(ctx, http.MethodPatch, loc, -1, l.Compressed, http.StatusNoContent, http.StatusAccepted, http.StatusCreated)
	if err != nil {
		return err
	}
	if loc, err = nextLocation(resp); err != nil {
		return err
	}
	d, err := l.Digest()
	if err != nil {
		return fmt.Errorf("the layer's digest after streaming it: %w", err)
	}
	_, err = w.send(ctx, http.MethodPut, withDigest(loc, d), 0, nil, http.StatusCreated)
	return err
}

func withDigest(loc string, d v1.Hash) string {
	u, err := url.Parse(loc)
	if err != nil {
		return loc // nextLocation parsed it already
	}
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	return u.String()
}

// startUpload POSTs a plain upload, without mount and from, and returns
// where to send the blob ("pushing blobs", POST then PUT).
func (w *Writer) startUpload(ctx context.Context) (string, error) {
	resp, err := w.send(ctx, http.MethodPost, w.url("/blobs/uploads/").String(), 0, nil, http.StatusAccepted)
	if err != nil {
		return "", err
	}
	return nextLocation(resp)
}

// startMount POSTs a request to mount d from the repository from
// ("mounting a blob from another repository"). It returns whether the
// blob is now in w's repository, or else where to send it: a registry
// that does not mount answers 202 with an upload session.
func (w *Writer) startMount(ctx context.Context, d v1.Hash, from name.Repository) (string, bool, error) {
	u := w.url("/blobs/uploads/")
	u.RawQuery = url.Values{"mount": {d.String()}, "from": {from.RepositoryStr()}}.Encode()
	resp, err := w.send(ctx, http.MethodPost, u.String(), 0, nil, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return "", false, err
	}
	if resp.StatusCode == http.StatusCreated {
		return "", true, nil
	}
	loc, err := nextLocation(resp)
	return loc, false, err
}

// request builds a request whose body, when body is not nil, is opened
// for each send (GetBody); size -1 streams it without a length.
func (w *Writer) request(ctx context.Context, method, u string, size int64, body func() (io.ReadCloser, error)) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, http.NoBody)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.GetBody = body
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	return req, nil
}

// send sends one request built by request and checks its status.
func (w *Writer) send(ctx context.Context, method, u string, size int64, body func() (io.ReadCloser, error), ok ...int) (*http.Response, error) {
	req, err := w.request(ctx, method, u, size, body)
	if err != nil {
		return nil, err
	}
	return w.do(req, ok...)
}

// do sends req and checks its status against ok. The response's body is
// read (a little of it, so the connection can be used again) and closed;
// its header and request are kept.
func (w *Writer) do(req *http.Request, ok ...int) (*http.Response, error) {
	// A request w makes acts for w's registry wherever the registry sends
	// it (an upload Location, a redirect, a token realm): the transport
	// holds it to that registry's reach.
	req = req.WithContext(stack.WithRegistry(req.Context(), w.repo.RegistryStr()))
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// An answer is read only as far as maxBody, whatever the registry
	// sends: an error document is a few hundred bytes, and the rest of a
	// success is not read.
	body := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(body, maxBody), body}
	if err := transport.CheckError(resp, ok...); err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp, nil
}

// maxBody bounds what do reads of an answer; distribution-spec error
// documents ("Error Codes") are far smaller.
const maxBody = 64 << 10

// nextLocation resolves an upload's Location against the request. The
// distribution spec lets it be an absolute URL on another host (object
// storage); where it may lead is the transport's rule, held at the
// address dialled (stack.WithRegistry marks every request of a Writer),
// not a check of its spelling here. Only http and https are followed.
func nextLocation(resp *http.Response) (string, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("upload to %s: the registry sent no Location", resp.Request.URL.Redacted())
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("upload to %s: the registry sent an unusable Location: %w", resp.Request.URL.Redacted(), err)
	}
	to := resp.Request.URL.ResolveReference(u)
	if to.Scheme != "http" && to.Scheme != "https" {
		return "", fmt.Errorf("upload to %s: the registry sent a Location with scheme %q", resp.Request.URL.Redacted(), to.Scheme)
	}
	return to.String(), nil
}

// PutManifest PUTs a manifest by reference (tag or digest) of w's
// repository; the caller names the reference in its error.
func (w *Writer) PutManifest(ctx context.Context, ref name.Reference, mt types.MediaType, raw []byte) error {
	u := w.url("/manifests/" + ref.Identifier())
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", string(mt))
	_, err = w.do(req, http.StatusOK, http.StatusCreated, http.StatusAccepted)
	return err
}

// Put PUTs m's manifest by ref.
func (w *Writer) Put(ctx context.Context, ref name.Reference, m Manifest) error {
	raw, err := m.RawManifest()
	if err != nil {
		return err
	}
	mt, err := m.MediaType()
	if err != nil {
		return err
	}
	return w.PutManifest(ctx, ref, mt, raw)
}

// Head returns the digest ref points at, or a *transport.Error (404 when
// it is not there).
func (w *Writer) Head(ctx context.Context, ref name.Reference) (v1.Hash, error) {
	u := w.url("/manifests/" + ref.Identifier())
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.String(), http.NoBody)
	if err != nil {
		return v1.Hash{}, err
	}
	req.Header.Set("Accept", acceptManifests)
	resp, err := w.do(req, http.StatusOK)
	if err != nil {
		return v1.Hash{}, err
	}
	h, err := v1.NewHash(resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("%s: the registry sent no usable Docker-Content-Digest: %w", ref, err)
	}
	return h, nil
}

// Delete deletes a tag or a manifest by digest ("deleting tags",
// "deleting manifests" in the distribution spec); the Pusher needs
// WithDelete.
func (w *Writer) Delete(ctx context.Context, ref name.Reference) error {
	_, err := w.send(ctx, http.MethodDelete, w.url("/manifests/"+ref.Identifier()).String(), 0, nil, http.StatusOK, http.StatusAccepted)
	return err
}

// acceptManifests is every manifest type a tag of ours can point at.
var acceptManifests = strings.Join([]string{
	string(types.OCIImageIndex), string(types.OCIManifestSchema1),
	string(types.DockerManifestList), string(types.DockerManifestSchema2),
}, ", ")
