package cleanup

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// published is a two-platform index whose children were pushed first under
// temp tags, as a matrix build leaves them.
type published struct {
	repo     name.Repository
	tmpTags  []name.Tag
	children []v1.Hash
	index    v1.Hash
}

func (p published) protected() map[v1.Hash]bool {
	m := map[v1.Hash]bool{p.index: true}
	for _, c := range p.children {
		m[c] = true
	}
	return m
}

// publish pushes two random images under repo:tmp-amd64 and repo:tmp-arm64
// and an index of both under repo:latest. It writes with ggcr directly,
// not through the code under test.
func publish(t *testing.T, host, repoPath string) published {
	t.Helper()
	repo, err := name.NewRepository(host + "/" + repoPath)
	if err != nil {
		t.Fatal(err)
	}
	p := published{repo: repo}
	idx := mutate.IndexMediaType(empty.Index, "application/vnd.oci.image.index.v1+json")
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(256, 2)
		if err != nil {
			t.Fatal(err)
		}
		tag := repo.Tag("tmp-" + arch)
		if err := remote.Write(tag, img); err != nil {
			t.Fatalf("pushing %s: %v", tag, err)
		}
		h, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		p.tmpTags = append(p.tmpTags, tag)
		p.children = append(p.children, h)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	if err := remote.WriteIndex(repo.Tag("latest"), idx); err != nil {
		t.Fatalf("pushing index: %v", err)
	}
	if p.index, err = idx.Digest(); err != nil {
		t.Fatal(err)
	}
	return p
}

// newRecorder records what the code under test sends, manifest PUT
// bodies included, through remote.DefaultTransport.
func newRecorder() *registrytest.Recorder { return recorderOn(remote.DefaultTransport) }

// recorderOn is newRecorder through next.
func recorderOn(next http.RoundTripper) *registrytest.Recorder {
	return registrytest.NewRecorder(
		registrytest.WithNext(next),
		registrytest.WithBodies(func(req *http.Request) bool {
			return req.Method == http.MethodPut && strings.Contains(req.URL.EscapedPath(), "/manifests/")
		}),
	)
}

// writes counts every request that could change a registry.
func writes(rec *registrytest.Recorder) int {
	return rec.CountFunc(func(q registrytest.Request) bool {
		switch q.Method {
		case http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete:
			return true
		}
		return false
	})
}

// digestDeletes returns the digests deleted through DELETE /manifests/.
func digestDeletes(rec *registrytest.Recorder) []string {
	var out []string
	for _, q := range rec.Requests() {
		if q.Method != http.MethodDelete {
			continue
		}
		if _, ref, ok := strings.Cut(q.Path, "/manifests/"); ok && strings.HasPrefix(ref, "sha256:") {
			out = append(out, ref)
		}
	}
	return out
}

// tombstonesPut returns the digests of the tombstones pushed.
func tombstonesPut(t *testing.T, rec *registrytest.Recorder) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, q := range rec.Requests() {
		if q.Body == nil {
			continue
		}
		var m struct {
			ArtifactType string `json:"artifactType"`
		}
		if err := json.Unmarshal(q.Body, &m); err != nil {
			t.Fatalf("manifest PUT body: %v", err)
		}
		if m.ArtifactType == TombstoneArtifactType {
			h, _, err := v1.SHA256(bytes.NewReader(q.Body))
			if err != nil {
				t.Fatal(err)
			}
			out[h.String()] = true
		}
	}
	return out
}

// assertNoProtectedDeleted fails when any request deleted a protected
// digest, whatever the path.
func assertNoProtectedDeleted(t *testing.T, rec *registrytest.Recorder, protected map[v1.Hash]bool) {
	t.Helper()
	for _, q := range rec.Requests() {
		if q.Method != http.MethodDelete {
			continue
		}
		for h := range protected {
			if strings.Contains(q.Path, h.String()) {
				t.Errorf("DELETE %s deletes protected digest %s", q.Path, h)
			}
		}
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// memRegistry is ggcr's in-memory registry behind httptest, with hooks to
// mimic other registries' refusals.
type memRegistry struct {
	srv   *httptest.Server
	inner http.Handler
	host  string
	// refuseTagDelete answers 405 UNSUPPORTED to DELETE of a tag, as GHCR
	// and older GitLab do.
	refuseTagDelete bool
	// refuseDigestDelete answers 405 UNSUPPORTED to DELETE of a digest, as
	// a registry with deletes disabled does.
	refuseDigestDelete bool
	// onPut sees every manifest PUT the inner registry accepted.
	onPut func(repo, ref, digest string)
	// intercept answers a request itself when it returns true.
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

func newMemRegistry(t *testing.T, configure func(*memRegistry)) *memRegistry {
	t.Helper()
	m := &memRegistry{inner: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	if configure != nil {
		configure(m)
	}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	m.host = strings.TrimPrefix(m.srv.URL, "http://")
	return m
}

func (m *memRegistry) serve(w http.ResponseWriter, r *http.Request) {
	if m.intercept != nil && m.intercept(w, r) {
		return
	}
	repo, ref, isManifest := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/")
	if isManifest && r.Method == http.MethodDelete {
		isDigest := strings.HasPrefix(ref, "sha256:")
		if (!isDigest && m.refuseTagDelete) || (isDigest && m.refuseDigestDelete) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`)
			return
		}
	}
	if isManifest && r.Method == http.MethodPut && m.onPut != nil {
		rw := httptest.NewRecorder()
		m.inner.ServeHTTP(rw, r)
		for k, v := range rw.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rw.Code)
		_, _ = w.Write(rw.Body.Bytes())
		if rw.Code == http.StatusCreated {
			m.onPut(repo, ref, rw.Header().Get("Docker-Content-Digest"))
		}
		return
	}
	m.inner.ServeHTTP(w, r)
}

// deleteRef deletes a manifest reference in the inner registry, as a
// vendor API would behind the scenes.
func (m *memRegistry) deleteRef(repo, ref string) {
	req := httptest.NewRequest(http.MethodDelete, "/v2/"+repo+"/manifests/"+ref, nil)
	m.inner.ServeHTTP(httptest.NewRecorder(), req)
}

// get reads a manifest from the registry with plain HTTP, independently of
// the code under test, and returns its status and digest.
func (m *memRegistry) get(t *testing.T, repo, ref string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, m.srv.URL+"/v2/"+repo+"/manifests/"+ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	resp, err := m.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Docker-Content-Digest")
}

// staticKeychain hands out one credential for one registry host.
type staticKeychain struct{ host, user, password string }

func (k staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() == k.host {
		return authn.FromConfig(authn.AuthConfig{Username: k.user, Password: k.password}), nil
	}
	return authn.Anonymous, nil
}
