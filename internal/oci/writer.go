package oci

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// repoWriter writes blobs and manifests to one repository through one
// authenticated client (at most one ping per registry, one token per
// repository), with the fewest requests the distribution spec allows:
//
//   - A blob is one POST that asks to mount it — from the repository it
//     was read from when that is on the same registry, else from the
//     target repository itself — then, unless the registry answered 201
//     (mounted, or already there), one PUT with the whole body. A POST
//     that mounts from the target itself is the existence check: no HEAD
//     before, no PATCH between. Registries that do not mount answer 202
//     and the bytes are sent (spec: "mounting a blob from another
//     repository"; "monolithic upload, POST then PUT").
//   - A manifest is one PUT, without a HEAD before it: a manifest is a
//     few hundred bytes, a HEAD costs the same round trip.
//
// A blob whose body cannot be sent again (a stream from the source
// registry) is retried as a whole new upload session, as the retry
// transport asks (retry.Transport.Sessions).
type repoWriter struct {
	a      *Assembler
	repo   name.Repository
	client *http.Client
}

// newRepoWriter authenticates for pushing to repo and for pulling from
// the repositories blobs will be mounted from.
func (a *Assembler) newRepoWriter(ctx context.Context, repo name.Repository, mountFrom []name.Repository) (*repoWriter, error) {
	auth, err := a.keychain.Resolve(repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", repo, err)
	}
	scopes := []string{repo.Scope(transport.PushScope)}
	seen := map[string]bool{repo.String(): true}
	for _, from := range mountFrom {
		if from.RegistryStr() == repo.RegistryStr() && !seen[from.String()] {
			seen[from.String()] = true
			scopes = append(scopes, from.Scope(transport.PullScope))
		}
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, freshBody{a.lazy}, scopes)
	if err != nil {
		return nil, &RefError{Op: "authenticating to", Ref: repoRef{repo}, Err: err}
	}
	return &repoWriter{a: a, repo: repo, client: &http.Client{Transport: rt}}, nil
}

func (w *repoWriter) url(path string) *url.URL {
	return &url.URL{Scheme: w.repo.Scheme(), Host: w.repo.RegistryStr(), Path: "/v2/" + w.repo.RepositoryStr() + path}
}

// mountSource is the repository a layer can be mounted from into w.repo:
// where it was read, when that is on the same registry; else w.repo.
func (w *repoWriter) mountSource(l v1.Layer) name.Repository {
	if ml, ok := l.(*remote.MountableLayer); ok {
		if from := ml.Reference.Context(); from.RegistryStr() == w.repo.RegistryStr() {
			return from
		}
	}
	return w.repo
}

// writeBlob makes sure the layer's blob is in w.repo.
func (w *repoWriter) writeBlob(ctx context.Context, l v1.Layer) error {
	d, err := l.Digest()
	if err != nil {
		return err
	}
	if mt, err := l.MediaType(); err == nil && !mt.IsDistributable() {
		return nil // a foreign layer: the registry is not to hold it
	}
	if w.holds(l) {
		// Read from (or staged in) this very repository: it is there.
		return nil
	}
	if err := w.a.transport.Sessions(ctx, func() error { return w.uploadBlob(ctx, l, d) }); err != nil {
		return &RefError{Op: "uploading", Ref: w.repo.Digest(d.String()), Err: err}
	}
	return nil
}

// uploadBlob is one upload session: POST with mount, then PUT the body
// unless the blob was mounted or already there.
func (w *repoWriter) uploadBlob(ctx context.Context, l v1.Layer, d v1.Hash) error {
	from := w.mountSource(l)
	loc, mounted, err := w.startUpload(ctx, d, from)
	if err != nil && from.String() != w.repo.String() {
		// Some registries refuse a mount they cannot serve instead of
		// answering 202 (token scopes for a repository they do not
		// know): upload without it.
		w.a.o.logger.Debug("mount refused; uploading", "digest", d.String(), "from", from.String(), "error", err)
		loc, mounted, err = w.startUpload(ctx, d, w.repo)
	}
	if err != nil || mounted {
		return err
	}
	size, err := l.Size()
	if err != nil {
		return err
	}
	u, err := url.Parse(loc)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), nil)
	if err != nil {
		return err
	}
	// The body is opened for each send (freshBody): a PUT refused with
	// a 401 for a token that expired is sent again by ggcr's bearer
	// transport, and one cut is sent again by the retry transport, each
	// reading the blob afresh from where it is kept.
	req.ContentLength = size
	req.GetBody = l.Compressed
	if size == 0 {
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return transport.CheckError(resp, http.StatusCreated)
}

// holds reports whether l was read from (or staged in) w.repo itself.
func (w *repoWriter) holds(l v1.Layer) bool {
	ml, ok := l.(*remote.MountableLayer)
	return ok && ml.Reference.Context().String() == w.repo.String()
}

// startUpload POSTs an upload that asks to mount d from the repository
// from. It returns whether the blob is now in w.repo, or else where to
// PUT it.
func (w *repoWriter) startUpload(ctx context.Context, d v1.Hash, from name.Repository) (string, bool, error) {
	u := w.url("/blobs/uploads/")
	u.RawQuery = url.Values{"mount": {d.String()}, "from": {from.RepositoryStr()}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), http.NoBody)
	if err != nil {
		return "", false, err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusCreated, http.StatusAccepted); err != nil {
		return "", false, err
	}
	if resp.StatusCode == http.StatusCreated {
		return "", true, nil
	}
	loc, err := nextLocation(resp)
	return loc, false, err
}

// freshBody gives every send of a request with GetBody a body of its
// own. go-containerregistry's bearer transport sends a request refused
// with a 401 again after refreshing its token, with the body the first
// send consumed; below it, every send starts from the beginning.
type freshBody struct{ inner http.RoundTripper }

func (f freshBody) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.GetBody == nil {
		return f.inner.RoundTrip(req)
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	if req.Body != nil {
		req.Body.Close()
	}
	out := req.Clone(req.Context()) // a RoundTripper must not modify its request
	out.Body = body
	return f.inner.RoundTrip(out)
}

// nextLocation resolves an upload's Location against the request. Like
// go-containerregistry, it refuses a Location on another host that is a
// private, loopback or link-local address: the blob's bytes would go to
// an internal service a registry must not be able to point us at.
func nextLocation(resp *http.Response) (string, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("upload to %s: the registry sent no Location", resp.Request.URL.Redacted())
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("upload to %s: Location %q: %w", resp.Request.URL.Redacted(), loc, err)
	}
	to := resp.Request.URL.ResolveReference(u)
	if h := to.Hostname(); h != resp.Request.URL.Hostname() {
		if ip := net.ParseIP(h); ip != nil && (ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()) {
			return "", fmt.Errorf("upload to %s: refusing Location on internal address %s", resp.Request.URL.Redacted(), h)
		}
	}
	return to.String(), nil
}

// putManifest PUTs a manifest by reference (tag or digest); the caller
// names the reference in its error.
func (w *repoWriter) putManifest(ctx context.Context, ref name.Reference, mt types.MediaType, raw []byte) error {
	u := w.url("/manifests/" + ref.Identifier())
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", string(mt))
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return transport.CheckError(resp, http.StatusOK, http.StatusCreated, http.StatusAccepted)
}

// putTaggable PUTs t's manifest by ref.
func (w *repoWriter) putTaggable(ctx context.Context, ref name.Reference, t Taggable) error {
	raw, err := t.RawManifest()
	if err != nil {
		return err
	}
	mt, err := t.MediaType()
	if err != nil {
		return err
	}
	return w.putManifest(ctx, ref, mt, raw)
}

// head returns the digest ref points at, or a *transport.Error (404 when
// it is not there).
func (w *repoWriter) head(ctx context.Context, ref name.Reference) (v1.Hash, error) {
	u := w.url("/manifests/" + ref.Identifier())
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.String(), http.NoBody)
	if err != nil {
		return v1.Hash{}, err
	}
	req.Header.Set("Accept", acceptManifests)
	resp, err := w.client.Do(req)
	if err != nil {
		return v1.Hash{}, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return v1.Hash{}, err
	}
	h, err := v1.NewHash(resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("%s: the registry sent no usable Docker-Content-Digest: %w", ref, err)
	}
	return h, nil
}

// acceptManifests is every manifest type a tag of ours can point at.
var acceptManifests = strings.Join([]string{
	string(types.OCIImageIndex), string(types.OCIManifestSchema1),
	string(types.DockerManifestList), string(types.DockerManifestSchema2),
}, ", ")
