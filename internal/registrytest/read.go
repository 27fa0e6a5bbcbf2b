package registrytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
)

// Manifest is a manifest read back over the registry API.
type Manifest struct {
	Body      []byte
	MediaType string
	Digest    string // Docker-Content-Digest
}

// Accept lists every manifest media type a reader accepts.
const Accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json"

// SetBasicAuth makes the read helpers send these credentials.
func (r *Registry) SetBasicAuth(user, password string) { r.user, r.password = user, password }

func (r *Registry) do(t testing.TB, method, path string, accept string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, r.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if r.user != "" {
		req.SetBasicAuth(r.user, r.password)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, body
}

// GetManifest reads repo's manifest for ref (tag or digest) and fails the
// test unless the registry answers 200.
func (r *Registry) GetManifest(t testing.TB, repo, ref string) Manifest {
	t.Helper()
	m, status := r.TryManifest(t, repo, ref)
	if status != http.StatusOK {
		t.Fatalf("GET %s/%s manifest %s: status %d", r.Host, repo, ref, status)
	}
	return m
}

// TryManifest reads a manifest and returns the HTTP status with it.
func (r *Registry) TryManifest(t testing.TB, repo, ref string) (Manifest, int) {
	t.Helper()
	resp, body := r.do(t, http.MethodGet, fmt.Sprintf("/v2/%s/manifests/%s", repo, ref), Accept)
	return Manifest{Body: body, MediaType: resp.Header.Get("Content-Type"), Digest: resp.Header.Get("Docker-Content-Digest")}, resp.StatusCode
}

// BlobStatus returns the status of HEAD on a blob.
func (r *Registry) BlobStatus(t testing.TB, repo, digest string) int {
	t.Helper()
	resp, _ := r.do(t, http.MethodHead, fmt.Sprintf("/v2/%s/blobs/%s", repo, digest), "")
	return resp.StatusCode
}

// GetBlob returns a blob's content, failing the test unless it is readable.
func (r *Registry) GetBlob(t testing.TB, repo, digest string) []byte {
	t.Helper()
	resp, body := r.do(t, http.MethodGet, fmt.Sprintf("/v2/%s/blobs/%s", repo, digest), "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET blob %s/%s@%s: status %d", r.Host, repo, digest, resp.StatusCode)
	}
	return body
}

// Tags lists repo's tags, sorted; a repository that does not exist has none.
func (r *Registry) Tags(t testing.TB, repo string) []string {
	t.Helper()
	resp, body := r.do(t, http.MethodGet, fmt.Sprintf("/v2/%s/tags/list", repo), "")
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET tags %s/%s: status %d: %s", r.Host, repo, resp.StatusCode, body)
	}
	var list struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("tags list %s: %v", body, err)
	}
	// distribution 2.8 lists tags in its storage's directory order, not
	// the lexical order the spec asks for; callers compare sorted lists.
	slices.Sort(list.Tags)
	return list.Tags
}

// Catalog lists the registry's repositories.
func (r *Registry) Catalog(t testing.TB) []string {
	t.Helper()
	resp, body := r.do(t, http.MethodGet, "/v2/_catalog", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET catalog %s: status %d: %s", r.Host, resp.StatusCode, body)
	}
	var list struct {
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("catalog %s: %v", body, err)
	}
	return list.Repositories
}
