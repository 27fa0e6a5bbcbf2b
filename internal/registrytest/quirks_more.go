package registrytest

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ForeignUploads sends every upload to the storage server: the Location
// of each upload answer names the storage host, as registries backed by
// object storage hand out upload URLs on another host (the distribution
// spec lets Location be any URL: "the Location header ... MAY be an
// absolute URL"). The storage server relays to the registry with the
// Authorization of the request that started the upload, as a presigned
// URL carries its own authority; the client's requests to it should carry
// none.
func ForeignUploads() Quirk {
	const name = "foreign-uploads"
	return Quirk{Name: name, storage: true, reply: func(p *QuirkProxy, r *http.Request, resp *http.Response) {
		if _, _, ok := quirkRepo(r.URL.Path, "blobs"); !ok || resp.StatusCode != http.StatusAccepted || resp.Header.Get("Location") == "" {
			return
		}
		p.count(name)
		resp.Header.Set("Location", p.storageURL("upload", resp.Header.Get("Location"), r.Header.Get("Authorization")))
	}}
}

// BlobRedirect answers every blob GET with 307 to the storage server,
// which serves the blob from the registry, as registries backed by object
// storage (Docker Hub, GHCR, ECR, GAR) redirect blob reads to a signed
// storage URL. The client's requests to it should carry no registry
// Authorization.
func BlobRedirect() Quirk {
	const name = "blob-redirect"
	return Quirk{Name: name, storage: true, serve: func(p *QuirkProxy, w http.ResponseWriter, r *http.Request) bool {
		_, ref, ok := quirkRepo(r.URL.Path, "blobs")
		if !ok || r.Method != http.MethodGet || strings.HasPrefix(ref, "uploads") {
			return false
		}
		p.count(name)
		http.Redirect(w, r, p.storageURL("blob", r.URL.RequestURI(), r.Header.Get("Authorization")), http.StatusTemporaryRedirect)
		return true
	}}
}

// storageURL names target (a registry URL or path) on the storage
// server, remembering auth for the relay under a key in the URL.
func (p *QuirkProxy) storageURL(kind, target, auth string) string {
	u, err := url.Parse(target)
	if err != nil {
		return target
	}
	p.mu.Lock()
	p.keys++
	key := strconv.Itoa(p.keys)
	p.auth[key] = auth
	p.mu.Unlock()
	q := url.Values{"to": {u.RequestURI()}, "key": {key}}
	return "http://" + p.StorageHost + "/" + kind + "?" + q.Encode()
}

// serveStorage relays a storage request to the registry with the
// Authorization its key stands for. Query parameters the client added
// (the digest of the final PUT) go along.
func (p *QuirkProxy) serveStorage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to, err := url.Parse(q.Get("to"))
	if err != nil || to.Path == "" {
		http.Error(w, "storage: no target", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	auth := p.auth[q.Get("key")]
	p.mu.Unlock()
	tq := to.Query()
	for k, vs := range q {
		if k != "to" && k != "key" {
			tq[k] = vs
		}
	}
	to.RawQuery = tq.Encode()
	h := r.Header.Clone()
	h.Del("Authorization")
	if auth != "" {
		h.Set("Authorization", auth)
	}
	resp, err := p.forward(r, p.upstream.Scheme+"://"+p.upstream.Host+to.RequestURI(), h)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	p.rewriteLocation(resp.Header)
	if loc := resp.Header.Get("Location"); loc != "" && r.URL.Path == "/upload" && resp.StatusCode == http.StatusAccepted {
		resp.Header.Set("Location", p.storageURL("upload", loc, auth))
	}
	relay(w, resp)
}

// OCIIndexRefused answers a PUT of an OCI image index with 400
// MANIFEST_INVALID, as Artifact Registry and Quay before quay#6070 did for
// indexes they did not accept (ko-build/ko#385, moby/buildkit#1143).
func OCIIndexRefused() Quirk {
	const name = "oci-index-refused"
	return Quirk{Name: name, serve: func(p *QuirkProxy, w http.ResponseWriter, r *http.Request) bool {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if _, _, ok := quirkRepo(r.URL.Path, "manifests"); !ok || r.Method != http.MethodPut || mt != "application/vnd.oci.image.index.v1+json" {
			return false
		}
		_, _ = io.Copy(io.Discard, r.Body)
		p.count(name)
		registryError(w, http.StatusBadRequest, "MANIFEST_INVALID", "manifest invalid")
		return true
	}}
}

// ImmutableTags refuses a manifest PUT by tag when the tag exists, even
// at the same digest, as ECR does for repositories with immutable tags
// (moby/buildkit#2004, docker/buildx#3024), with ECR's error
// (GoogleContainerTools/kaniko#3481, moby/buildkit#3776).
func ImmutableTags() Quirk {
	const name = "immutable-tags"
	return Quirk{Name: name, serve: func(p *QuirkProxy, w http.ResponseWriter, r *http.Request) bool {
		repo, ref, ok := quirkRepo(r.URL.Path, "manifests")
		if !ok || r.Method != http.MethodPut || strings.Contains(ref, ":") {
			return false
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodHead, p.upstream.String()+r.URL.Path, http.NoBody)
		if err != nil {
			return false
		}
		req.Header.Set("Authorization", r.Header.Get("Authorization"))
		req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
		resp, err := p.transport.RoundTrip(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
		_, _ = io.Copy(io.Discard, r.Body)
		p.count(name)
		registryError(w, http.StatusBadRequest, "TAG_INVALID", fmt.Sprintf(
			"The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the repository is immutable.", ref, repo))
		return true
	}}
}
