package oci

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

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
	a, err := New(WithTransport(rec), WithInsecureRegistries([]string{host, dst.Host}))
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
