package oci

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestReferrersFromTheAPI: a source that answers the referrers API
// (go-containerregistry's in-memory registry: neither distribution
// release answers it) with referrers attached through the API only, no
// fallback tag; they are found there and reach a 2.8 target, where oras
// finds them.
func TestReferrersFromTheAPI(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	dst := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	refs := pushPlatforms(t, host, "amd64")
	d := headDigest(t, host+"/src:amd64")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sbom.json"), []byte(`{"sbom":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	sbom := strings.TrimSpace(orasIn(t, dir, "attach", "--plain-http", "--distribution-spec", "v1.1-referrers-api",
		"--artifact-type", sbomType, "--format", "go-template", "--template", "{{.digest}}", host+"/src@"+d.String(), "sbom.json"))
	rec := registrytest.NewRecorder()
	a, err := newAssembler(client.WithTransport(rec), client.WithInsecureRegistries([]string{host, dst.Host}))
	if err != nil {
		t.Fatal(err)
	}
	as := publishReferrers(t, a, refs, targets(t, dst.Host+"/app:1"))
	if got := as.Manifests[0].Referrers; len(got) != 1 || got[0].Digest != sbom || got[0].ArtifactType != sbomType {
		t.Errorf("Referrers = %+v, want the SBOM %s", got, sbom)
	}
	if n := rec.Count("GET", "/referrers/"); n != 2 {
		t.Errorf("%d referrers GET, want 2 (the image and its SBOM)", n)
	}
	if tree := discover(t, "--plain-http", dst.Host+"/app@"+d.String()); tree.find(sbom) == nil {
		t.Errorf("oras discover on the target: %+v, want the SBOM %s", tree, sbom)
	}
}

// subjectAware answers a manifest PUT that names a subject with the
// OCI-Subject header, as a registry with the referrers API does
// (distribution-spec "Pushing Manifests with Subject"); ggcr's in-memory
// registry serves the referrers API but does not send the header.
func subjectAware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			var m struct {
				Subject *v1.Descriptor `json:"subject"`
			}
			if json.Unmarshal(body, &m) == nil && m.Subject != nil {
				w.Header().Set("OCI-Subject", m.Subject.Digest.String())
			}
		}
		next.ServeHTTP(w, r)
	})
}

// TestReferrersToTheAPI: a target with the referrers API gets each
// referrer as a manifest with its subject and no fallback tag; oras finds
// them through the API, the nested signature of the SBOM included, and
// the cosign tag is copied as a tag.
func TestReferrersToTheAPI(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	srv := httptest.NewServer(subjectAware(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	s := newSignedSource(t, src, "amd64")
	a, err := newAssembler(client.WithInsecureRegistries([]string{src.Host, host}))
	if err != nil {
		t.Fatal(err)
	}
	publishReferrers(t, a, []plan.Ref{s.ref}, targets(t, host+"/app:1"))
	tree := discover(t, "--plain-http", "--distribution-spec", "v1.1-referrers-api", host+"/app@"+s.digest.String())
	sbom := tree.find(s.sbom)
	if sbom == nil || sbom.find(s.sbomSig) == nil {
		t.Errorf("oras discover through the API: %+v, want the SBOM %s and its signature %s", tree, s.sbom, s.sbomSig)
	}
	repo, err := name.NewRepository(host+"/app", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(repo)
	if err != nil {
		t.Fatal(err)
	}
	fallback := "sha256-" + s.digest.Hex
	if slices.Contains(tags, fallback) {
		t.Errorf("tags %v: a fallback tag was written to a registry with the referrers API", tags)
	}
	if !slices.Contains(tags, fallback+".sig") {
		t.Errorf("tags %v: the cosign tag %s.sig was not copied", tags, fallback)
	}
}
