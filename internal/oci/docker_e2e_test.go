package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/oci-assemble/oci-assemble/internal/oci/convert"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// ociImageOf is a random OCI image for linux/arch, as BuildKit writes
// one with oci-mediatypes (its default when it attaches attestations).
func ociImageOf(t *testing.T, arch string) v1.Image {
	t.Helper()
	img, err := convert.ToOCI(randomImage(t, arch))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// skopeoPath finds skopeo; missing, the test is skipped locally and fails
// under CI.
func skopeoPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("skopeo")
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("skopeo not found; install it (apt-get install skopeo)")
	}
	t.Skip("skopeo not found")
	return ""
}

// TestDockerListHasDockerChildren: media-type docker over two OCI
// platform images, one from a layout and one from a registry index with a
// BuildKit attestation and an SBOM referrer, writes a Docker manifest list
// of Docker schema 2 manifests with Docker config and layer types. Read
// back over the registry API, checked by go-containerregistry's validate
// and copied out by skopeo. The attestation is left out and the SBOM,
// which names the OCI manifest, is not carried, nor are the source's
// descriptor annotations: each said in one warning.
func TestDockerListHasDockerChildren(t *testing.T) {
	t.Parallel()
	skopeo := skopeoPath(t)
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	amd64 := layoutOf(t, ociImageOf(t, "amd64"))
	arm := ociImageOf(t, "arm64")
	armDigest := mustDigest(t, arm)
	attested := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"},
			Annotations: map[string]string{"org.opencontainers.image.created": "2026-01-01T00:00:00Z"}}},
		mutate.IndexAddendum{Add: imageOf(t, v1.Platform{}), Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{source.RefTypeAnnotation: source.AttestationManifest, source.RefDigestAnnotation: armDigest.String()},
		}})
	arm64 := pushedIndex(t, reg.Host, "arm64", attested)
	sbom := attach(t, reg.Host+"/src@"+armDigest.String(), sbomType)

	a := insecureAssembler(t, reg)
	ctx := context.Background()
	tgts := targets(t, reg.Host+"/app:1")
	as, err := a.Assemble(ctx, Plan{Sources: []plan.Ref{amd64, arm64}, Targets: tgts, MediaType: plan.DockerManifestList, Referrers: true})
	if err != nil {
		t.Fatalf("Assemble: %v", err)
	}
	if _, err := a.Publish(ctx, as); err != nil {
		t.Fatalf("Publish: %v", err)
	}

	list := reg.GetManifest(t, "app", "1")
	if got, want := list.MediaType, string(types.DockerManifestList); got != want {
		t.Errorf("list Content-Type = %s, want %s", got, want)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(list.Body, &im); err != nil {
		t.Fatal(err)
	}
	if got := len(im.Manifests); got != 2 {
		t.Errorf("list has %d manifests, want 2 (the attestation left out): %s", got, list.Body)
	}
	for _, d := range im.Manifests {
		if d.MediaType != types.DockerManifestSchema2 || len(d.Annotations) > 0 {
			t.Errorf("list entry %s: media type %s, annotations %v; want %s and none", d.Digest, d.MediaType, d.Annotations, types.DockerManifestSchema2)
		}
		child := reg.GetManifest(t, "app", d.Digest.String())
		if got, want := child.MediaType, string(types.DockerManifestSchema2); got != want {
			t.Errorf("%s Content-Type = %s, want %s", d.Digest, got, want)
		}
		m, err := v1.ParseManifest(bytes.NewReader(child.Body))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := m.Config.MediaType, types.DockerConfigJSON; got != want {
			t.Errorf("%s config media type = %s, want %s", d.Digest, got, want)
		}
		for i, l := range m.Layers {
			if got, want := l.MediaType, types.DockerLayer; got != want {
				t.Errorf("%s layer %d media type = %s, want %s", d.Digest, i, got, want)
			}
		}
	}
	checkIndex(t, reg.Host+"/app:1", as.Digest)

	raw, err := exec.Command(skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+reg.Host+"/app:1").Output()
	if err != nil || !bytes.Equal(bytes.TrimSpace(raw), list.Body) {
		t.Errorf("skopeo inspect --raw = %s, %v; want the list", raw, err)
	}
	dir := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command(skopeo, "copy", "-q", "--all", "--src-tls-verify=false", "docker://"+reg.Host+"/app:1", "oci:"+dir+":1").CombinedOutput(); err != nil {
		t.Errorf("skopeo copy --all: %v\n%s", err, out)
	}

	if !slices.ContainsFunc(as.Warnings, func(w string) bool {
		return strings.Contains(w, "the Docker format (media-type: docker) gave platform manifests new digests") && strings.Contains(w, sbom) && strings.Contains(w, "linux/arm64")
	}) {
		t.Errorf("Warnings = %q, want one naming the SBOM %s that could not follow", as.Warnings, sbom)
	}
	if !slices.ContainsFunc(as.Warnings, func(w string) bool {
		return strings.Contains(w, "attestation manifests") && strings.Contains(w, "media-type: oci")
	}) {
		t.Errorf("Warnings = %q, want one saying the attestation was left out", as.Warnings)
	}
	if !slices.ContainsFunc(as.Warnings, func(w string) bool {
		return strings.Contains(w, "descriptor annotations were left out (linux/arm64)")
	}) {
		t.Errorf("Warnings = %q, want one saying the arm64 descriptor's annotations were left out", as.Warnings)
	}
	for _, w := range as.Warnings {
		t.Logf("warning: %s", w)
	}
	if tags := reg.Tags(t, "app"); slices.ContainsFunc(tags, func(s string) bool { return strings.HasPrefix(s, "sha256-") }) {
		t.Errorf("target tags %v: a referrer tag was written", tags)
	}
}

// TestDockerListRefusesWhatDockerCannotDescribe: an OCI platform image
// with a zstd layer, or with manifest annotations, has no Docker form:
// media-type docker is refused in one line that names the platform and
// says to use media-type oci, before anything is written.
func TestDockerListRefusesWhatDockerCannotDescribe(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	zstd, err := random.Layer(256, types.OCILayerZStd)
	if err != nil {
		t.Fatal(err)
	}
	withZstd, err := mutate.Append(ociImageOf(t, "arm64"), mutate.Addendum{Layer: zstd, MediaType: types.OCILayerZStd})
	if err != nil {
		t.Fatal(err)
	}
	annotated := mutate.Annotations(ociImageOf(t, "arm64"), map[string]string{"org.opencontainers.image.base.name": "x\n::error::y"}).(v1.Image)
	tests := []struct {
		name string
		img  v1.Image
		want string
	}{
		{"zstd layer", withZstd, `layer 3 is "application/vnd.oci.image.layer.v1.tar+zstd"`},
		{"manifest annotations", annotated, "its manifest has annotations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := "src-" + strings.ReplaceAll(tt.name, " ", "-")
			pushImage(t, reg, repo+":arm64", tt.img)
			src := targets(t, reg.Host+"/"+repo+":arm64")
			a := insecureAssembler(t, reg)
			_, err := a.Assemble(context.Background(), Plan{Sources: append(pushPlatforms(t, reg.Host, "amd64"), src...),
				Targets: targets(t, reg.Host+"/app:"+repo), MediaType: plan.DockerManifestList})
			if !errors.Is(err, plan.ErrSource) || !errors.Is(err, convert.ErrNoDockerForm) {
				t.Fatalf("Assemble() = %v, want ErrSource and convert.ErrNoDockerForm", err)
			}
			msg := err.Error()
			for _, want := range []string{tt.want, "platform linux/arm64", src[0].String(), "use media-type: oci"} {
				if !strings.Contains(msg, want) {
					t.Errorf("Assemble() error = %q, want it to say %q", msg, want)
				}
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("Assemble() error = %q, want one line", msg)
			}
			if _, code := reg.TryManifest(t, "app", repo); code != 404 {
				t.Errorf("app:%s answers %d, want 404: nothing written", repo, code)
			}
		})
	}
}

// TestDockerListInLayerMode: layer mode over an OCI base with media-type
// docker builds Docker schema 2 images, the new gzip layers with Docker's
// layer type, staged to the target as usual; go-containerregistry's
// validate and skopeo read the result.
func TestDockerListInLayerMode(t *testing.T) {
	t.Parallel()
	skopeo := skopeoPath(t)
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	ws := climbWorkspace(t)
	specs, err := layer.ParseSpecs("- files: ['dist/{platform}/:/app/']\n")
	if err != nil {
		t.Fatal(err)
	}
	a := insecureAssembler(t, reg)
	ctx := context.Background()
	tgts := targets(t, reg.Host+"/app:built")
	b := &plan.Build{Base: layoutOf(t, ociImageOf(t, "amd64")), Layers: specs, Compression: layer.Gzip, Workspace: ws}
	as, err := a.Assemble(ctx, Plan{Build: b, Targets: tgts, MediaType: plan.DockerManifestList, Stage: true})
	if err != nil {
		t.Fatalf("Assemble: %v", err)
	}
	if _, err := a.Publish(ctx, as); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	list := reg.GetManifest(t, "app", "built")
	if got, want := list.MediaType, string(types.DockerManifestList); got != want {
		t.Errorf("list Content-Type = %s, want %s", got, want)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(list.Body, &im); err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("list = %s, want one platform", list.Body)
	}
	child := reg.GetManifest(t, "app", im.Manifests[0].Digest.String())
	m, err := v1.ParseManifest(bytes.NewReader(child.Body))
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.DockerManifestSchema2 || m.Config.MediaType != types.DockerConfigJSON {
		t.Errorf("platform manifest %s with config %s, want %s with %s", m.MediaType, m.Config.MediaType, types.DockerManifestSchema2, types.DockerConfigJSON)
	}
	if got, want := len(m.Layers), 3; got != want {
		t.Errorf("%d layers, want %d (the base's two and the new one)", got, want)
	}
	for i, l := range m.Layers {
		if got, want := l.MediaType, types.DockerLayer; got != want {
			t.Errorf("layer %d media type = %s, want %s", i, got, want)
		}
	}
	checkIndex(t, reg.Host+"/app:built", as.Digest)
	dir := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command(skopeo, "copy", "-q", "--all", "--src-tls-verify=false", "docker://"+reg.Host+"/app:built", "oci:"+dir+":1").CombinedOutput(); err != nil {
		t.Errorf("skopeo copy --all: %v\n%s", err, out)
	}
}
