package test

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
)

// indexJSON is the part of an index a reader checks.
type indexJSON struct {
	MediaType   string            `json:"mediaType"`
	Annotations map[string]string `json:"annotations"`
	Manifests   []struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int64             `json:"size"`
		Platform    *v1.Platform      `json:"platform"`
		Annotations map[string]string `json:"annotations"`
	} `json:"manifests"`
}

type manifestJSON struct {
	Annotations map[string]string         `json:"annotations"`
	Config      struct{ Digest string }   `json:"config"`
	Layers      []struct{ Digest string } `json:"layers"`
}

// readIndex reads repo:ref back over the registry API and checks that the
// index, every child manifest, every config and every layer is readable in
// that repository.
func readIndex(t *testing.T, r *registrytest.Registry, repo, ref string) (indexJSON, string) {
	t.Helper()
	m := r.GetManifest(t, repo, ref)
	var idx indexJSON
	if err := json.Unmarshal(m.Body, &idx); err != nil {
		t.Fatalf("index %s/%s:%s: %v", r.Host, repo, ref, err)
	}
	for _, c := range idx.Manifests {
		cm := r.GetManifest(t, repo, c.Digest)
		if cm.Digest != c.Digest {
			t.Errorf("child %s reads back as %s", c.Digest, cm.Digest)
		}
		var mj manifestJSON
		if err := json.Unmarshal(cm.Body, &mj); err != nil {
			t.Fatal(err)
		}
		for _, d := range append([]string{mj.Config.Digest}, layerDigests(mj)...) {
			if got := r.BlobStatus(t, repo, d); got != http.StatusOK {
				t.Errorf("blob %s in %s/%s: HEAD %d, want 200", d, r.Host, repo, got)
			}
		}
	}
	return idx, m.Digest
}

func layerDigests(m manifestJSON) []string {
	var out []string
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

func platformsOf(idx indexJSON) []string {
	var out []string
	for _, m := range idx.Manifests {
		if m.Platform != nil {
			s := m.Platform.OS + "/" + m.Platform.Architecture
			if m.Platform.Variant != "" {
				s += "/" + m.Platform.Variant
			}
			out = append(out, s)
		}
	}
	return out
}

// TestJoinMatrixToTwoRegistries is the join job replacing `docker buildx
// imagetools create`: two temp tags on registry A, published with
// annotations under two tags on A and one on B.
func TestJoinMatrixToTwoRegistries(t *testing.T) {
	t.Parallel()
	a := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	b := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	dAMD := push(t, a.Host+"/o/app:tmp-amd64", platformImage(t, amd64))
	dARM := push(t, a.Host+"/o/app:tmp-arm64", platformImage(t, arm64))

	res := runAction(t, map[string]string{
		"images":              a.Host + "/o/app:tmp-amd64\n" + a.Host + "/o/app@" + dARM.String(),
		"tags":                a.Host + "/o/app:1.2.3," + a.Host + "/o/app:latest\n" + b.Host + "/mirror/app:1.2.3",
		"annotations":         "index:org.opencontainers.image.description=A demo, with = and spaces\nmanifest-descriptor[linux/arm64]:com.example.arch=arm\nindex,manifest-descriptor:org.opencontainers.image.source=https://example.com/app",
		"insecure-registries": a.Host + "," + b.Host,
		"push":                "true",
	})
	if res.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}

	want := res.outputs["digest"]
	if !strings.HasPrefix(want, "sha256:") {
		t.Fatalf("digest output = %q", want)
	}
	for _, loc := range []struct {
		r         *registrytest.Registry
		repo, tag string
	}{{a, "o/app", "1.2.3"}, {a, "o/app", "latest"}, {b, "mirror/app", "1.2.3"}} {
		idx, got := readIndex(t, loc.r, loc.repo, loc.tag)
		if got != want {
			t.Errorf("%s/%s:%s = %s, want %s", loc.r.Host, loc.repo, loc.tag, got, want)
		}
		if got, want := idx.MediaType, "application/vnd.oci.image.index.v1+json"; got != want {
			t.Errorf("mediaType = %q, want %q", got, want)
		}
		if got, want := idx.Annotations["org.opencontainers.image.description"], "A demo, with = and spaces"; got != want {
			t.Errorf("index description = %q, want %q", got, want)
		}
		if got := idx.Annotations["org.opencontainers.image.source"]; got != "https://example.com/app" {
			t.Errorf("index source annotation = %q", got)
		}
		if got, want := platformsOf(idx), []string{"linux/amd64", "linux/arm64/v8"}; !slices.Equal(got, want) {
			t.Errorf("platforms = %v, want %v", got, want)
		}
		for _, m := range idx.Manifests {
			if m.Annotations["org.opencontainers.image.source"] != "https://example.com/app" {
				t.Errorf("%s descriptor misses the source annotation: %v", m.Digest, m.Annotations)
			}
			isARM := m.Platform.Architecture == "arm64"
			if got := m.Annotations["com.example.arch"] == "arm"; got != isARM {
				t.Errorf("%s: platform-filtered annotation present = %v, want %v", m.Platform.Architecture, got, isARM)
			}
		}
		// Per-arch digests are unchanged: no manifest-level annotation.
		if idx.Manifests[0].Digest != dAMD.String() || idx.Manifests[1].Digest != dARM.String() {
			t.Errorf("children = %s, %s; want the pushed %s, %s", idx.Manifests[0].Digest, idx.Manifests[1].Digest, dAMD, dARM)
		}
	}
	if got, want := res.outputs["image"], a.Host+"/o/app@"+want; got != want {
		t.Errorf("image output = %q, want %q", got, want)
	}
	var mans []map[string]any
	if err := json.Unmarshal([]byte(res.outputs["manifests"]), &mans); err != nil || len(mans) != 2 {
		t.Fatalf("manifests output = %q (%v)", res.outputs["manifests"], err)
	}
	if mans[1]["platform"] != "linux/arm64/v8" || mans[1]["digest"] != dARM.String() {
		t.Errorf("manifests output[1] = %v", mans[1])
	}
	var md struct {
		Digest  string `json:"digest"`
		Targets []struct {
			Ref  string   `json:"ref"`
			Tags []string `json:"tags"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(res.outputs["metadata"]), &md); err != nil {
		t.Fatalf("metadata output: %v", err)
	}
	if md.Digest != want || len(md.Targets) != 2 || !slices.Equal(md.Targets[0].Tags, []string{"1.2.3", "latest"}) {
		t.Errorf("metadata = %+v", md)
	}
	for _, s := range []string{"linux/arm64/v8", dAMD.String(), "1.2.3"} {
		if !strings.Contains(res.summary, s) {
			t.Errorf("step summary misses %q:\n%s", s, res.summary)
		}
	}
	if !strings.Contains(res.stdout, "::group::") || !strings.Contains(res.stdout, "blob mounted") && !strings.Contains(res.stdout, "blob uploaded") {
		t.Errorf("log lacks groups or per-blob lines:\n%s", res.stdout)
	}
	if !strings.Contains(res.stdout, "blob uploaded") {
		t.Errorf("cross-registry copy logged no upload line:\n%s", res.stdout)
	}
}

// TestJoinFromArchivesAndLayoutsIntoLayout joins a docker-archive, a
// gzipped docker-archive... from disk into both a registry and an OCI
// layout, and reads the layout back with skopeo.
func TestJoinFromArchivesAndLayouts(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	srcLayout := filepath.Join(t.TempDir(), "src")
	writeLayout(t, srcLayout, "arm64", platformImage(t, arm64))
	archive := writeArchive(t, platformImage(t, amd64), true)
	ppc := writeArchive(t, platformImage(t, v1.Platform{OS: "linux", Architecture: "ppc64le"}), false)
	out := filepath.Join(t.TempDir(), "out")

	res := runCLI(t, []string{
		"--images", "docker-archive:" + archive + ",oci:" + srcLayout + ":arm64,docker-archive:" + ppc,
		"--tags", reg.Host + "/from/disk:v1,oci:" + out + ":v1,oci:" + out + ":stable",
		"--annotations", "manifest:org.opencontainers.image.title=disk",
		"--insecure-registries", reg.Host,
	})
	if res.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	idx, digest := readIndex(t, reg, "from/disk", "v1")
	if got, want := platformsOf(idx), []string{"linux/amd64", "linux/arm64/v8", "linux/ppc64le"}; !slices.Equal(got, want) {
		t.Errorf("platforms = %v, want %v", got, want)
	}
	for _, m := range idx.Manifests {
		if m.MediaType != "application/vnd.oci.image.manifest.v1+json" {
			t.Errorf("%s: mediaType %s, want OCI (archives are converted)", m.Digest, m.MediaType)
		}
		var mj manifestJSON
		if err := json.Unmarshal(reg.GetManifest(t, "from/disk", m.Digest).Body, &mj); err != nil {
			t.Fatal(err)
		}
		if mj.Annotations["org.opencontainers.image.title"] != "disk" {
			t.Errorf("%s: manifest annotations %v, want the title", m.Digest, mj.Annotations)
		}
	}
	for _, tag := range []string{"v1", "stable"} {
		raw, err := exec.Command("skopeo", "inspect", "--raw", "oci:"+out+":"+tag).Output()
		if err != nil {
			t.Fatalf("skopeo inspect oci:%s:%s: %v", out, tag, err)
		}
		if got := sha256Hex(raw); "sha256:"+got != digest {
			t.Errorf("layout %s index digest = sha256:%s, want %s", tag, got, digest)
		}
	}
	// An independent reader copies the whole multi-arch image out of the
	// layout: every blob must be there.
	copyDir := filepath.Join(t.TempDir(), "copy")
	if b, err := exec.Command("skopeo", "copy", "--all", "oci:"+out+":v1", "oci:"+copyDir+":x").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy --all: %v\n%s", err, b)
	}
}
