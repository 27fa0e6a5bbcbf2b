package oci

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// quirkProxy is a registry's public behaviour emulated in front of a
// real registry: refuse answers a request itself, and OCI-Subject is
// dropped from manifest PUT answers when noSubject is set.
func quirkProxy(t *testing.T, r *registrytest.Registry, refuse func(*http.Request) int, noSubject bool) *registrytest.Registry {
	t.Helper()
	u, err := url.Parse(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	if noSubject {
		rp.ModifyResponse = func(resp *http.Response) error {
			resp.Header.Del("OCI-Subject")
			return nil
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if code := refuse(req); code != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			io.WriteString(w, `{"errors":[{"code":"UNSUPPORTED","message":"emulated registry refusal"}]}`)
			return
		}
		rp.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	p := *r
	p.Host = strings.TrimPrefix(srv.URL, "http://")
	return &p
}

// ghcrLike answers 404 on the referrers endpoint and indexes no subject,
// as GHCR does: its referrers live in the sha256-<hex> fallback tag
// (actions/attest-build-provenance#71).
func ghcrLike(t *testing.T, r *registrytest.Registry) *registrytest.Registry {
	return quirkProxy(t, r, func(req *http.Request) int {
		if strings.Contains(req.URL.Path, "/referrers/") {
			return http.StatusNotFound
		}
		return 0
	}, true)
}

// TestReferrersGHCRStyle: a source and a target that answer 404 on the
// referrers endpoint: the referrers are found through the fallback tag
// (the endpoint asked once per registry) and written to the target's
// fallback tag, where oras finds them.
func TestReferrersGHCRStyle(t *testing.T) {
	t.Parallel()
	src := ghcrLike(t, registrytest.Start(t, registrytest.WithVersion(registrytest.V3)))
	dst := ghcrLike(t, registrytest.Start(t, registrytest.WithVersion(registrytest.V3)))
	s := newSignedSource(t, src, "amd64")
	if _, code := src.TryManifest(t, "src", "sha256-"+s.digest.Hex); code != http.StatusOK {
		t.Fatalf("oras wrote no fallback tag through the GHCR-like proxy (%d)", code)
	}
	s2 := newSignedSource(t, src, "arm64")
	rec := registrytest.NewRecorder()
	a, err := newAssembler(client.WithTransport(rec), client.WithInsecureRegistries([]string{src.Host, dst.Host}))
	if err != nil {
		t.Fatal(err)
	}
	publishReferrers(t, a, []plan.Ref{s.ref, s2.ref}, targets(t, dst.Host+"/app:1"))
	checkCarried(t, dst, "app", s)
	checkCarried(t, dst, "app", s2)
	if n := rec.Count(http.MethodGet, "/referrers/"); n != 1 {
		t.Errorf("%d GET on the referrers endpoint, want 1 (a 404 means no API)", n)
	}
	if n := rec.Count(http.MethodGet, "/tags/list"); n != 1 {
		t.Errorf("%d tag lists, want 1 for the one source repository", n)
	}
}

// TestReferrersECRStyle: a target that refuses manifests with a subject
// with 405, as ECR did during `oras cp -r` (aws/containers-roadmap#2783):
// the image is published, and the referrers it refused are reported.
func TestReferrersECRStyle(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	real := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	dst := quirkProxy(t, real, func(req *http.Request) int {
		if req.Method != http.MethodPut || !strings.Contains(req.URL.Path, "/manifests/") {
			return 0
		}
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte(`"subject"`)) {
			return http.StatusMethodNotAllowed
		}
		return 0
	}, false)
	s := newSignedSource(t, src, "amd64")
	a := insecureAssembler(t, src, dst)
	tgts := targets(t, dst.Host+"/app:1")
	as, err := a.Assemble(t.Context(), Plan{Sources: []plan.Ref{s.ref}, Targets: tgts, Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Publish(t.Context(), as)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	checkIndex(t, dst.Host+"/app:1", as.Digest)
	skipped := res.Targets[0].SkippedReferrers
	if len(skipped) != 2 || !strings.Contains(strings.Join(skipped, "\n"), s.sbom) || !strings.Contains(strings.Join(skipped, "\n"), s.sbomSig) {
		t.Errorf("SkippedReferrers = %q, want the SBOM and its signature", skipped)
	}
	// The cosign tag has no subject, and goes through.
	if m, code := dst.TryManifest(t, "app", "sha256-"+s.digest.Hex+".sig"); code != http.StatusOK || m.Digest != s.cosignSig {
		t.Errorf("cosign tag: %d %s, want %s", code, m.Digest, s.cosignSig)
	}
}

// TestReferrersWithoutTagList: a pull-only credential that may not list
// tags (ECR asks for ecr:ListImages) still publishes the image, and one
// warning says the fallback and cosign tags were not looked for.
func TestReferrersWithoutTagList(t *testing.T) {
	t.Parallel()
	src := quirkProxy(t, registrytest.Start(t, registrytest.WithVersion(registrytest.V3)), func(req *http.Request) int {
		if strings.HasSuffix(req.URL.Path, "/tags/list") {
			return http.StatusForbidden
		}
		return 0
	}, false)
	dst := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	s := newSignedSource(t, src, "amd64")
	a := insecureAssembler(t, src, dst)
	as := publishReferrers(t, a, []plan.Ref{s.ref}, targets(t, dst.Host+"/app:1"))
	checkIndex(t, dst.Host+"/app:1", as.Digest)
	if len(as.Warnings) != 1 || !strings.Contains(as.Warnings[0], "403") || !strings.Contains(as.Warnings[0], "referrers: false") {
		t.Errorf("Warnings = %q, want one about the refused tag list", as.Warnings)
	}
}
