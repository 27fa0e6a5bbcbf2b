package test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestDockerListFromBuildx joins two BuildKit indexes (OCI manifests with
// attestations) with media-type docker, as for a registry that refuses
// OCI: every platform manifest is Docker's, and the attestations that a
// Docker list cannot hold are named in one warning.
func TestDockerListFromBuildx(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	idxA, _, _ := buildxIndex(t, amd64)
	idxB, _, _ := buildxIndex(t, arm64)
	pushIndex(t, reg.Host+"/o/app:tmp-amd64", idxA)
	pushIndex(t, reg.Host+"/o/app:tmp-arm64", idxB)
	res := runAction(t, map[string]string{
		"images":              reg.Host + "/o/app:tmp-amd64," + reg.Host + "/o/app:tmp-arm64",
		"tags":                reg.Host + "/o/app:1",
		"media-type":          "docker",
		"insecure-registries": reg.Host,
	})
	if res.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	list := reg.GetManifest(t, "o/app", "1")
	if got, want := list.MediaType, string(types.DockerManifestList); got != want {
		t.Errorf("list Content-Type = %s, want %s", got, want)
	}
	idx, _ := readIndex(t, reg, "o/app", "1")
	if got := len(idx.Manifests); got != 2 {
		t.Errorf("list has %d manifests, want the 2 platforms", got)
	}
	for _, m := range idx.Manifests {
		child := reg.GetManifest(t, "o/app", m.Digest)
		var mj struct {
			Config struct{ MediaType string }   `json:"config"`
			Layers []struct{ MediaType string } `json:"layers"`
		}
		if err := json.Unmarshal(child.Body, &mj); err != nil {
			t.Fatal(err)
		}
		if child.MediaType != string(types.DockerManifestSchema2) || mj.Config.MediaType != string(types.DockerConfigJSON) {
			t.Errorf("%s: %s with config %s, want a Docker manifest and config", m.Digest, child.MediaType, mj.Config.MediaType)
		}
		for i, l := range mj.Layers {
			if l.MediaType != string(types.DockerLayer) {
				t.Errorf("%s layer %d: %s, want %s", m.Digest, i, l.MediaType, types.DockerLayer)
			}
		}
	}
	warns := warningLines(res.stdout)
	if len(warns) != 1 || !strings.HasPrefix(warns[0], "a Docker manifest list cannot hold attestation manifests") || !strings.Contains(warns[0], "use media-type: oci to keep them") {
		t.Errorf("warning lines = %q, want one about the attestations left out", warns)
	}
	t.Logf("warning: %s", strings.Join(warns, "\nwarning: "))
}

// TestDockerListRefusesZstd: a zstd layer has no Docker form; the run
// fails with one line that names the source, its platform and the fix.
func TestDockerListRefusesZstd(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	l, err := random.Layer(256, types.OCILayerZStd)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(platformImage(t, arm64), mutate.Addendum{Layer: l, MediaType: types.OCILayerZStd})
	if err != nil {
		t.Fatal(err)
	}
	push(t, reg.Host+"/o/app:tmp-amd64", platformImage(t, amd64))
	push(t, reg.Host+"/o/app:tmp-arm64", img)
	res := runAction(t, map[string]string{
		"images":              reg.Host + "/o/app:tmp-amd64," + reg.Host + "/o/app:tmp-arm64",
		"tags":                reg.Host + "/o/app:1",
		"media-type":          "docker",
		"insecure-registries": reg.Host,
	})
	if res.code == 0 {
		t.Fatalf("exit 0, want a failure\n%s", res.stdout)
	}
	lines := errorLines(res.stdout)
	want := "platform linux/arm64/v8: cannot be a Docker schema 2 manifest: layer 3 is \"application/vnd.oci.image.layer.v1.tar+zstd\""
	if len(lines) != 1 || !strings.Contains(lines[0], want) || !strings.HasSuffix(lines[0], "use media-type: oci to publish it") {
		t.Errorf("error lines = %q, want one saying %q and the fix", lines, want)
	}
	t.Logf("error: %s", strings.Join(lines, "\nerror: "))
	if _, code := reg.TryManifest(t, "o/app", "1"); code != 404 {
		t.Errorf("o/app:1 answers %d, want 404", code)
	}
}
