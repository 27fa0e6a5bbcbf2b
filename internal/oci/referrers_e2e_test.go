package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// The referrer tests create and read referrers with oras, an independent
// implementation of the distribution spec's referrers API and tag schema
// (.ci/run installs it).

const (
	sbomType = "application/vnd.example.sbom.v1+json"
	sigType  = "application/vnd.example.signature.v1"
	// cosignSigLayer is the layer media type of a cosign signature
	// (https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md).
	cosignSigLayer = "application/vnd.dev.cosign.simplesigning.v1+json"
)

// orasPath finds oras; missing, the test is skipped locally and fails
// under CI.
func orasPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("oras"); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	if p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "oras"); fileExists(p) {
		return p
	}
	registrytest.MissingTool(t, "oras not found; .ci/run installs it")
	return ""
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// oras runs oras with args (plain HTTP) and returns its stdout.
func oras(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(orasPath(t), args...)
	cmd.Dir = t.TempDir()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "HOME="+cmd.Dir)
	if err := cmd.Run(); err != nil {
		t.Fatalf("oras %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// attach attaches a small file of artifactType to subject (repo@digest)
// with oras and returns the referrer's digest.
func attach(t *testing.T, subject, artifactType string) string {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "payload.json")
	if err := os.WriteFile(f, []byte(fmt.Sprintf(`{"for":%q,"type":%q}`, subject, artifactType)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := orasIn(t, dir, "attach", "--plain-http", "--artifact-type", artifactType,
		"--annotation", "org.example.note=kept", "--format", "go-template", "--template", "{{.digest}}", subject, "payload.json")
	return strings.TrimSpace(out)
}

func orasIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(orasPath(t), args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if err := cmd.Run(); err != nil {
		t.Fatalf("oras %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// discovered is oras discover's JSON: the referrers tree.
type discovered struct {
	Digest       string       `json:"digest"`
	ArtifactType string       `json:"artifactType"`
	Referrers    []discovered `json:"referrers"`
	Annotations  map[string]string
}

// discover lists subject's referrers with oras, all levels.
func discover(t *testing.T, args ...string) discovered {
	t.Helper()
	out := oras(t, append([]string{"discover", "--format", "json"}, args...)...)
	var d discovered
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("oras discover: %v\n%s", err, out)
	}
	return d
}

// find is the referrer of the tree with digest, or nil.
func (d discovered) find(digest string) *discovered {
	for i := range d.Referrers {
		if d.Referrers[i].Digest == digest {
			return &d.Referrers[i]
		}
		if f := d.Referrers[i].find(digest); f != nil {
			return f
		}
	}
	return nil
}

// putCosignSig lays out a cosign signature with plain registry API calls:
// an OCI manifest with one simplesigning layer, tagged sha256-<hex>.sig
// in the subject's repository.
func putCosignSig(t *testing.T, r *registrytest.Registry, repo string, subject v1.Hash) string {
	t.Helper()
	payload := []byte(fmt.Sprintf(`{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`, r.Host+"/"+repo, subject))
	config := []byte(`{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:` + sha256Hex(payload) + `"]}}`)
	putBlob(t, r, repo, payload)
	putBlob(t, r, repo, config)
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":%d,"digest":"sha256:%s"},"layers":[{"mediaType":%q,"size":%d,"digest":"sha256:%s","annotations":{"dev.cosignproject.cosign/signature":"MEUCIQDfake"}}]}`,
		len(config), sha256Hex(config), cosignSigLayer, len(payload), sha256Hex(payload))
	req, err := http.NewRequest(http.MethodPut, r.URL()+"/v2/"+repo+"/manifests/sha256-"+subject.Hex+".sig", strings.NewReader(m))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	resp, err := r.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT cosign signature: %d", resp.StatusCode)
	}
	return "sha256:" + sha256Hex([]byte(m))
}

func putBlob(t *testing.T, r *registrytest.Registry, repo string, b []byte) {
	t.Helper()
	resp, err := r.Client().Post(r.URL()+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	if !strings.HasPrefix(loc, "http") {
		loc = r.URL() + loc
	}
	req, err := http.NewRequest(http.MethodPut, loc+sep+"digest=sha256:"+sha256Hex(b), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = r.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT blob: %d", resp.StatusCode)
	}
}

// signedSource pushes one platform image to r's src repository and gives
// it an SBOM, a signature of the SBOM (nested) and a cosign .sig tag.
type signedSource struct {
	ref                      plan.Ref
	digest                   v1.Hash
	sbom, sbomSig, cosignSig string
}

func newSignedSource(t *testing.T, r *registrytest.Registry, arch string) signedSource {
	t.Helper()
	refs := pushPlatforms(t, r.Host, arch)
	d := headDigest(t, r.Host+"/src:"+arch)
	s := signedSource{ref: refs[0], digest: d}
	s.sbom = attach(t, r.Host+"/src@"+d.String(), sbomType)
	s.sbomSig = attach(t, r.Host+"/src@"+s.sbom, sigType)
	s.cosignSig = putCosignSig(t, r, "src", d)
	return s
}

func headDigest(t *testing.T, ref string) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(r)
	if err != nil {
		t.Fatal(err)
	}
	return desc.Digest
}

// checkCarried checks with oras that the target holds s's referrers,
// nested one included, and the cosign tag.
func checkCarried(t *testing.T, r *registrytest.Registry, repo string, s signedSource, extra ...string) {
	t.Helper()
	tree := discover(t, "--plain-http", r.Host+"/"+repo+"@"+s.digest.String())
	sbom := tree.find(s.sbom)
	switch {
	case sbom == nil:
		t.Errorf("%s/%s: oras discover finds no SBOM %s: %+v", r.Host, repo, s.sbom, tree)
	case sbom.ArtifactType != sbomType:
		t.Errorf("SBOM artifactType = %q, want %q", sbom.ArtifactType, sbomType)
	case sbom.find(s.sbomSig) == nil:
		t.Errorf("%s/%s: the SBOM's signature %s is not among its referrers: %+v", r.Host, repo, s.sbomSig, sbom)
	}
	for _, d := range extra {
		if tree.find(d) == nil {
			t.Errorf("%s/%s: referrer %s that was there before is gone: %+v", r.Host, repo, d, tree)
		}
	}
	m, code := r.TryManifest(t, repo, "sha256-"+s.digest.Hex+".sig")
	if code != http.StatusOK || m.Digest != s.cosignSig {
		t.Errorf("%s/%s: cosign tag reads %d %s, want %s", r.Host, repo, code, m.Digest, s.cosignSig)
	}
}

// TestReferrersTravel: a platform image's SBOM, the SBOM's signature
// and a cosign signature reach the target, between distribution v3 and
// 2.8 in all four combinations, and oras finds them there. Neither
// release answers the referrers endpoint (v3.1.2 and 2.8 both 404 it), so
// oras and oci-assemble use the fallback tag on both.
func TestReferrersTravel(t *testing.T) {
	t.Parallel()
	versions := []registrytest.Version{registrytest.V3, registrytest.V2}
	for _, sv := range versions {
		for _, tv := range versions {
			t.Run(sv.String()+"_to_"+tv.String(), func(t *testing.T) {
				t.Parallel()
				src := registrytest.Start(t, registrytest.WithVersion(sv))
				dst := registrytest.Start(t, registrytest.WithVersion(tv))
				s := newSignedSource(t, src, "amd64")
				a := insecureAssembler(t, src, dst)
				tgts := targets(t, dst.Host+"/app:1", dst.Host+"/mirror:1")
				as := publishReferrers(t, a, []plan.Ref{s.ref}, tgts)
				checkIndex(t, dst.Host+"/app:1", as.Digest)
				checkCarried(t, dst, "app", s)
				checkCarried(t, dst, "mirror", s)
				got := as.Manifests[0].Referrers
				if len(got) != 3 {
					t.Errorf("Manifests[0].Referrers = %+v, want 3", got)
				}
			})
		}
	}
}

func publishReferrers(t *testing.T, a *Assembler, sources, tgts []plan.Ref) *assembly.Assembly {
	t.Helper()
	ctx := context.Background()
	as, err := a.Assemble(ctx, Plan{Sources: sources, Targets: tgts, Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Publish(ctx, as)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range res.Targets {
		if len(tg.SkippedReferrers) > 0 {
			t.Errorf("%s skipped %v", tg.Ref, tg.SkippedReferrers)
		}
	}
	return as
}

// TestReferrersMergeIntoExistingFallback: a 2.8 target whose fallback
// index already lists another referrer of the image keeps it.
func TestReferrersMergeIntoExistingFallback(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	dst := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	s := newSignedSource(t, src, "arm64")
	// The same image is already on the target, with a referrer of its own.
	img, err := remote.Image(mustRef(t, src.Host+"/src:arm64"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustRef(t, dst.Host+"/app:old"), img); err != nil {
		t.Fatal(err)
	}
	other := attach(t, dst.Host+"/app@"+s.digest.String(), "application/vnd.example.vex.v1+json")
	a := insecureAssembler(t, src, dst)
	publishReferrers(t, a, []plan.Ref{s.ref}, targets(t, dst.Host+"/app:1"))
	checkCarried(t, dst, "app", s, other)
	var im v1.IndexManifest
	m := dst.GetManifest(t, "app", "sha256-"+s.digest.Hex)
	if err := json.Unmarshal(m.Body, &im); err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.ArtifactType == "" {
			t.Errorf("fallback entry %s has no artifactType", d.Digest)
		}
		if d.Digest.String() == s.sbom && d.Annotations["org.example.note"] != "kept" {
			t.Errorf("fallback entry %s annotations = %v, want the manifest's", d.Digest, d.Annotations)
		}
	}
	if n := len(im.Manifests); n != 2 {
		t.Errorf("fallback index has %d entries, want the other and the SBOM", n)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReferrersToLayout: an OCI layout target keeps the referrers where
// oras reads them from a layout.
func TestReferrersToLayout(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	s := newSignedSource(t, src, "amd64")
	dir := filepath.Join(t.TempDir(), "layout")
	a := insecureAssembler(t, src)
	publishReferrers(t, a, []plan.Ref{s.ref}, targets(t, "oci:"+dir+":v1"))
	tree := discover(t, "--oci-layout", dir+"@"+s.digest.String())
	if sbom := tree.find(s.sbom); sbom == nil || sbom.find(s.sbomSig) == nil {
		t.Errorf("oras discover --oci-layout: %+v, want the SBOM %s and its signature %s", tree, s.sbom, s.sbomSig)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "sha256-"+s.digest.Hex+".sig") {
		t.Errorf("index.json has no cosign tag: %s", raw)
	}
}

// TestReferrersOff: referrers: false leaves them behind and asks the
// source nothing about them.
func TestReferrersOff(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	dst := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	s := newSignedSource(t, src, "amd64")
	rec := registrytest.NewRecorder()
	a, err := newAssembler(client.WithTransport(rec), client.WithInsecureRegistries([]string{src.Host, dst.Host}))
	if err != nil {
		t.Fatal(err)
	}
	tgts := targets(t, dst.Host+"/app:1")
	as, err := a.Assemble(context.Background(), Plan{Sources: []plan.Ref{s.ref}, Targets: tgts})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	if n := rec.CountFunc(func(q registrytest.Request) bool {
		return strings.Contains(q.Path, "/referrers/") || strings.Contains(q.Path, "/tags/list") || strings.Contains(q.Path, "sha256-")
	}); n != 0 {
		t.Errorf("%d referrer requests with referrers off", n)
	}
	if tree := discover(t, "--plain-http", dst.Host+"/app@"+s.digest.String()); len(tree.Referrers) != 0 {
		t.Errorf("referrers copied with referrers off: %+v", tree.Referrers)
	}
}

// TestReferrersCannotFollowRewrittenManifests: manifest-level annotations
// give the platform manifest a new digest: its referrers are not carried,
// one warning lists them, and nothing is altered.
func TestReferrersCannotFollowRewrittenManifests(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	dst := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	s := newSignedSource(t, src, "amd64")
	a := insecureAssembler(t, src, dst)
	tgts := targets(t, dst.Host+"/app:1")
	anns := []plan.Annotation{{Level: plan.LevelManifest, Key: "org.example.k", Value: "v"}}
	as, err := a.Assemble(context.Background(), Plan{Sources: []plan.Ref{s.ref}, Targets: tgts, Annotations: anns, Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	if len(as.Warnings) != 1 || !strings.Contains(as.Warnings[0], s.sbom) || !strings.Contains(as.Warnings[0], "sign") {
		t.Errorf("Warnings = %q, want one naming %s and recommending signing after the join", as.Warnings, s.sbom)
	}
	if len(as.Manifests[0].Referrers) != 0 {
		t.Errorf("Referrers = %+v, want none", as.Manifests[0].Referrers)
	}
	if tags := dst.Tags(t, "app"); slices.ContainsFunc(tags, func(s string) bool { return strings.HasPrefix(s, "sha256-") }) {
		t.Errorf("target tags %v: a referrer tag was written", tags)
	}
}

// insecureAssembler is an Assembler that reaches regs over plain HTTP.
func insecureAssembler(t *testing.T, regs ...*registrytest.Registry) *Assembler {
	t.Helper()
	var hosts []string
	for _, r := range regs {
		hosts = append(hosts, r.Host)
	}
	a, err := newAssembler(client.WithInsecureRegistries(hosts))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestReferrersFromLayout: an OCI layout that holds an image with its
// referrers (as a layout target of oci-assemble leaves it) is a source
// whose referrers travel too, nested and cosign-tagged ones included; the
// layout named without a tag means its one index, not the referrers and
// platform manifests listed beside it.
func TestReferrersFromLayout(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	dst := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	s := newSignedSource(t, src, "amd64")
	dir := filepath.Join(t.TempDir(), "layout")
	a := insecureAssembler(t, src, dst)
	publishReferrers(t, a, []plan.Ref{s.ref}, targets(t, "oci:"+dir))
	as := publishReferrers(t, a, targets(t, "oci:"+dir), targets(t, dst.Host+"/app:1"))
	checkIndex(t, dst.Host+"/app:1", as.Digest)
	checkCarried(t, dst, "app", s)
	if got := as.Manifests[0].Referrers; len(got) != 3 {
		t.Errorf("Manifests[0].Referrers = %+v, want 3", got)
	}
}
