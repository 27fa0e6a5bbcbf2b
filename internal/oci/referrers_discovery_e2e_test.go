package oci

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// answerProxy is r behind a proxy that answers the requests match picks
// with status, Content-Type and body of its own, as a registry without
// a feature, or a web server in front of one, answers it.
func answerProxy(t *testing.T, r *registrytest.Registry, match func(*http.Request) bool, status int, contentType, body string, header ...string) *registrytest.Registry {
	t.Helper()
	u, err := url.Parse(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = r.Client().Transport
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if match(req) {
			w.Header().Set("Content-Type", contentType)
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(status)
			io.WriteString(w, body)
			return
		}
		rp.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	p := *r
	p.Host = strings.TrimPrefix(srv.URL, "http://")
	return &p
}

const htmlPage = "<!DOCTYPE html>\n<html><body>::error::Welcome to the registry</body></html>"

// TestReferrersDiscoveryAnswersOtherwise: a registry whose referrers
// endpoint or tag list answers something other than the spec's format,
// or whose fallback tag holds something other than an index, is a
// registry without that feature: the join goes on, with one warning, and
// finds the referrers the other ways (the cosign tag here) where it can.
func TestReferrersDiscoveryAnswersOtherwise(t *testing.T) {
	t.Parallel()
	isPath := func(part string) func(*http.Request) bool {
		return func(r *http.Request) bool { return r.Method == http.MethodGet && strings.Contains(r.URL.Path, part) }
	}
	for _, tc := range []struct {
		name  string
		proxy func(*testing.T, *registrytest.Registry) *registrytest.Registry
		// fallback pushes an image manifest as the subject's
		// referrers fallback tag.
		fallback  bool
		warning   string
		referrers int // the cosign signature is found
	}{
		{"referrers API answers HTML", func(t *testing.T, r *registrytest.Registry) *registrytest.Registry {
			return answerProxy(t, r, isPath("/referrers/"), http.StatusOK, "text/html", htmlPage)
		}, false, "referrers API", 1},
		{"referrers API answers JSON that is not an index", func(t *testing.T, r *registrytest.Registry) *registrytest.Registry {
			return answerProxy(t, r, isPath("/referrers/"), http.StatusOK, "application/json", `{"hello":"world"}`)
		}, false, "referrers API", 1},
		{"referrers API answers 501 with HTML", func(t *testing.T, r *registrytest.Registry) *registrytest.Registry {
			return answerProxy(t, r, isPath("/referrers/"), http.StatusNotImplemented, "text/html", htmlPage)
		}, false, "referrers API", 1},
		{"tag list answers HTML", func(t *testing.T, r *registrytest.Registry) *registrytest.Registry {
			return answerProxy(t, r, isPath("/tags/list"), http.StatusOK, "text/html", htmlPage)
		}, false, "tags of", 0},
		{"tag list pages without end", func(t *testing.T, r *registrytest.Registry) *registrytest.Registry {
			return answerProxy(t, r, isPath("/tags/list"), http.StatusOK, "application/json", `{"name":"src","tags":["a"]}`,
				"Link", `</v2/src/tags/list?n=1&last=a>; rel="next"`)
		}, false, "tag list of", 0},
		{"fallback tag holds an image", func(t *testing.T, r *registrytest.Registry) *registrytest.Registry { return r },
			true, "referrers tag", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
			subject := pushImage(t, reg, "src:1", archImage(t, "amd64"))
			putCosignSig(t, reg, "src", subject)
			if tc.fallback {
				pushImage(t, reg, "src:sha256-"+subject.Hex, archImage(t, "arm64"))
			}
			p := tc.proxy(t, reg)
			a, err := newAssembler(client.WithInsecureRegistries([]string{p.Host}))
			if err != nil {
				t.Fatal(err)
			}
			out := targets(t, "oci:"+filepath.Join(t.TempDir(), "out"))
			ctx := context.Background()
			as, err := a.Assemble(ctx, Plan{Sources: targets(t, p.Host+"/src:1"), Targets: out, Referrers: true})
			if err != nil {
				t.Fatalf("Assemble() = %v, want the join to go on", err)
			}
			if _, err := a.Publish(ctx, as); err != nil {
				t.Fatalf("Publish() = %v", err)
			}
			var warned []string
			for _, w := range as.Warnings {
				if strings.Contains(w, tc.warning) {
					warned = append(warned, w)
				}
			}
			if len(warned) != 1 {
				t.Errorf("Warnings = %q, want one about the %s", as.Warnings, tc.warning)
			}
			for _, w := range as.Warnings {
				if strings.ContainsAny(w, "\n\r") {
					t.Errorf("warning %q holds a line break", w)
				}
			}
			if got := len(as.Manifests[0].Referrers); got != tc.referrers {
				t.Errorf("Manifests[0].Referrers = %+v, want %d", as.Manifests[0].Referrers, tc.referrers)
			}
		})
	}
}

// pushImage pushes img to reg as repo:tag and returns its digest.
func pushImage(t *testing.T, reg *registrytest.Registry, repoTag string, img v1.Image) v1.Hash {
	t.Helper()
	ref, err := name.ParseReference(reg.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(reg.Client().Transport)); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestReferrersFallbackTagTaken: a target without the referrers API whose
// tag sha256-<subject> already holds something other than an index
// keeps it: the referrer is pushed by digest, listed as skipped, and the
// tag is not replaced with a referrers index.
func TestReferrersFallbackTagTaken(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	dst := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	img := archImage(t, "amd64")
	subject := pushImage(t, src, "src:1", img)
	desc, err := partial.Descriptor(img)
	if err != nil {
		t.Fatal(err)
	}
	sbom, ok := mutate.Subject(archImage(t, "arm64"), v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest}).(v1.Image)
	if !ok {
		t.Fatal("mutate.Subject did not give an image")
	}
	sd, err := sbom.Digest()
	if err != nil {
		t.Fatal(err)
	}
	pushImage(t, src, "src@"+sd.String(), sbom)
	taken := pushImage(t, dst, "app:sha256-"+subject.Hex, archImage(t, "386"))

	a := insecureAssembler(t, src, dst)
	ctx := context.Background()
	out := targets(t, dst.Host+"/app:1")
	as, err := a.Assemble(ctx, Plan{Sources: targets(t, src.Host+"/src:1"), Targets: out, Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(as.Manifests[0].Referrers); got != 1 {
		t.Fatalf("Manifests[0].Referrers = %+v, want the SBOM", as.Manifests[0].Referrers)
	}
	res, err := a.Publish(ctx, as)
	if err != nil {
		t.Fatalf("Publish() = %v", err)
	}
	if got := headDigest(t, dst.Host+"/app:sha256-"+subject.Hex); got != taken {
		t.Errorf("the fallback tag points at %s, want it kept at %s", got, taken)
	}
	if len(res.Targets) != 1 || len(res.Targets[0].SkippedReferrers) != 1 {
		t.Errorf("Targets = %+v, want the SBOM skipped", res.Targets)
	}
}
