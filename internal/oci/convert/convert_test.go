package convert

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// dockerImage is a Docker schema 2 image with a foreign layer carrying
// URLs and an annotation, and an ordinary layer.
func dockerImage(t *testing.T) v1.Image {
	t.Helper()
	foreign, err := random.Layer(512, types.DockerForeignLayer)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := random.Layer(512, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: foreign, MediaType: types.DockerForeignLayer, URLs: []string{"https://example.com/blob"}, Annotations: map[string]string{"a": "b"}},
		mutate.Addendum{Layer: plain, MediaType: types.DockerLayer},
	)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestToOCIKeepsEverythingButTheTypes(t *testing.T) {
	t.Parallel()
	in := dockerImage(t)
	out, err := ToOCI(in)
	if err != nil {
		t.Fatalf("ToOCI: %v", err)
	}
	m, err := out.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.MediaType, types.OCIManifestSchema1; got != want {
		t.Errorf("manifest media type = %s, want %s", got, want)
	}
	if got, want := m.Config.MediaType, types.OCIConfigJSON; got != want {
		t.Errorf("config media type = %s, want %s", got, want)
	}
	inM, _ := in.Manifest()
	for i, l := range m.Layers {
		if l.Digest != inM.Layers[i].Digest {
			t.Errorf("layer %d digest = %s, want %s (bytes unchanged)", i, l.Digest, inM.Layers[i].Digest)
		}
	}
	if got, want := m.Layers[0].MediaType, types.OCIRestrictedLayer; got != want {
		t.Errorf("foreign layer media type = %s, want %s", got, want)
	}
	if got, want := m.Layers[1].MediaType, types.OCILayer; got != want {
		t.Errorf("layer media type = %s, want %s", got, want)
	}
	if len(m.Layers[0].URLs) != 1 || m.Layers[0].Annotations["a"] != "b" {
		t.Errorf("foreign layer lost its URLs or annotations: %+v", m.Layers[0])
	}
	inCfg, _ := in.RawConfigFile()
	outCfg, _ := out.RawConfigFile()
	if string(inCfg) != string(outCfg) {
		t.Error("config changed")
	}
	if err := validate.Image(out, validate.Fast); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
	same, err := ToOCI(out)
	if err != nil || same != out {
		t.Errorf("ToOCI(OCI image) = %v, %v; want it unchanged", same, err)
	}
}
