package convert

import (
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// ociImage is an OCI image with the given layer media types, each layer
// described with that type.
func ociImage(t *testing.T, lmts ...types.MediaType) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, mt := range lmts {
		l, err := random.Layer(256, mt)
		if err != nil {
			t.Fatal(err)
		}
		add := mutate.Addendum{Layer: l, MediaType: mt}
		if !mt.IsDistributable() {
			add.URLs = []string{"https://example.com/blob"}
		}
		if img, err = mutate.Append(img, add); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

func TestToDockerKeepsBlobs(t *testing.T) {
	t.Parallel()
	in := ociImage(t, types.OCIRestrictedLayer, types.OCILayer, types.DockerLayer)
	out, err := ToDocker(in)
	if err != nil {
		t.Fatalf("ToDocker: %v", err)
	}
	m, err := out.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.MediaType, types.DockerManifestSchema2; got != want {
		t.Errorf("manifest media type = %s, want %s", got, want)
	}
	if got, want := m.Config.MediaType, types.DockerConfigJSON; got != want {
		t.Errorf("config media type = %s, want %s", got, want)
	}
	inM, err := in.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	want := []types.MediaType{types.DockerForeignLayer, types.DockerLayer, types.DockerLayer}
	for i, l := range m.Layers {
		if got := l.MediaType; got != want[i] {
			t.Errorf("layer %d media type = %s, want %s", i, got, want[i])
		}
		if l.Digest != inM.Layers[i].Digest || l.Size != inM.Layers[i].Size {
			t.Errorf("layer %d = %s, want %s (bytes unchanged)", i, l.Digest, inM.Layers[i].Digest)
		}
	}
	if got := m.Layers[0].URLs; len(got) != 1 {
		t.Errorf("foreign layer URLs = %v, want them kept", got)
	}
	if m.Config.Digest != inM.Config.Digest {
		t.Errorf("config digest = %s, want %s (bytes unchanged)", m.Config.Digest, inM.Config.Digest)
	}
	ls, err := out.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ls[0].MediaType(); err != nil || got != types.DockerForeignLayer {
		t.Errorf("Layers()[0].MediaType() = %s, %v; want %s", got, err, types.DockerForeignLayer)
	}
	if err := validate.Image(out); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
	if same, err := ToDocker(out); err != nil || same != out {
		t.Errorf("ToDocker(Docker image) = %v, %v; want it unchanged", same, err)
	}
}

func TestToDockerRefuses(t *testing.T) {
	t.Parallel()
	subject := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}, Size: 2}
	tests := []struct {
		name string
		img  func(t *testing.T) v1.Image
		want string
	}{
		{"zstd layer", func(t *testing.T) v1.Image { return ociImage(t, types.OCILayer, types.OCILayerZStd) }, `layer 2 is "application/vnd.oci.image.layer.v1.tar+zstd"`},
		{"uncompressed layer", func(t *testing.T) v1.Image { return ociImage(t, types.OCIUncompressedLayer) }, `layer 1 is "application/vnd.oci.image.layer.v1.tar";`},
		{"hostile layer type", func(t *testing.T) v1.Image { return ociImage(t, "x\n::error::boom") }, `layer 1 is "x\n::error::boom"`},
		{"zstd layer under a Docker manifest", func(t *testing.T) v1.Image {
			return mutate.MediaType(ociImage(t, types.DockerLayer, types.OCILayerZStd), types.DockerManifestSchema2)
		}, `layer 2 is "application/vnd.oci.image.layer.v1.tar+zstd"`},
		{"manifest annotations", func(t *testing.T) v1.Image {
			return mutate.Annotations(ociImage(t, types.OCILayer), map[string]string{"org.example": "x"}).(v1.Image)
		}, "has annotations"},
		{"layer annotations", func(t *testing.T) v1.Image {
			l, err := random.Layer(64, types.OCILayer)
			if err != nil {
				t.Fatal(err)
			}
			img, err := mutate.Append(ociImage(t), mutate.Addendum{Layer: l, MediaType: types.OCILayer, Annotations: map[string]string{"a": "b"}})
			if err != nil {
				t.Fatal(err)
			}
			return img
		}, "layer 1 has annotations"},
		{"subject", func(t *testing.T) v1.Image { return mutate.Subject(ociImage(t, types.OCILayer), subject).(v1.Image) }, "has a subject"},
		{"artifact config", func(t *testing.T) v1.Image {
			return mutate.ConfigMediaType(ociImage(t, types.OCILayer), "application/vnd.example.thing")
		}, `config has media type "application/vnd.example.thing"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ToDocker(tt.img(t))
			if !errors.Is(err, ErrNoDockerForm) {
				t.Fatalf("ToDocker error = %v, want ErrNoDockerForm", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ToDocker error = %q, want it to say %q", err, tt.want)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("ToDocker error = %q, want one line", err)
			}
		})
	}
}
