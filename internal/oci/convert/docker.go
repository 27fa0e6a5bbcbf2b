package convert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrNoDockerForm is returned by ToDocker for an image that Docker's
// image manifest (schema 2) cannot describe.
var ErrNoDockerForm = errors.New("cannot be a Docker schema 2 manifest")

// dockerLayerType maps the layer media types that have a Docker schema 2
// equivalent to it. The schema 2 spec
// (https://github.com/distribution/distribution/blob/main/docs/content/spec/manifest-v2-2.md)
// knows gzip-compressed tar layers, ordinary and foreign, and nothing
// else: no zstd, and no uncompressed tar, although some clients read one.
var dockerLayerType = map[types.MediaType]types.MediaType{
	types.OCILayer:           types.DockerLayer,
	types.DockerLayer:        types.DockerLayer,
	types.OCIRestrictedLayer: types.DockerForeignLayer,
	types.DockerForeignLayer: types.DockerForeignLayer,
}

// dockerLayerTypes are the layer types a Docker schema 2 manifest from a
// Docker tool names; the uncompressed one is not in the spec, but a
// manifest that already uses it is kept as its author wrote it.
var dockerLayerTypes = []types.MediaType{types.DockerLayer, types.DockerForeignLayer, types.DockerUncompressedLayer}

// dockerManifestFields are the fields of a Docker schema 2 manifest; an
// OCI manifest with any other (annotations, subject, artifactType) says
// something the Docker form would silently drop.
var dockerManifestFields = []string{"schemaVersion", "mediaType", "config", "layers"}

// ToDocker returns img described as a Docker schema 2 manifest: Docker
// manifest, config and layer media types, the config and layer blobs
// unchanged, so only the manifest digest changes. A Docker schema 2 image
// is returned as it is. An image whose manifest carries what schema 2
// cannot (annotations, a subject, an artifact type, layer annotations) or
// whose layers are not gzip-compressed tar is refused with
// ErrNoDockerForm, never described with something dropped.
func ToDocker(img v1.Image) (v1.Image, error) {
	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading media type: %w", err)
	}
	switch mt {
	case types.DockerManifestSchema2:
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("reading manifest: %w", err)
		}
		if m.Config.MediaType == types.DockerConfigJSON && !slices.ContainsFunc(m.Layers, func(d v1.Descriptor) bool { return !slices.Contains(dockerLayerTypes, d.MediaType) }) {
			// Docker's own, kept byte for byte (and digest); a Docker
			// manifest naming OCI types (a docker-archive of zstd
			// layers, say) is checked and re-described below.
			return img, nil
		}
	case types.OCIManifestSchema1:
	default:
		return nil, fmt.Errorf("%w: manifest type %q is not an image manifest", ErrNoDockerForm, mt)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if !slices.Contains(dockerManifestFields, k) {
			return nil, fmt.Errorf("%w: its manifest has %s, which a Docker manifest cannot carry", ErrNoDockerForm, fieldName(k))
		}
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	out := &v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2}
	switch m.Config.MediaType {
	case types.OCIConfigJSON, types.DockerConfigJSON:
	default:
		return nil, fmt.Errorf("%w: its config has media type %q, not an image config", ErrNoDockerForm, m.Config.MediaType)
	}
	if f := extraField(m.Config); f != "" {
		return nil, fmt.Errorf("%w: its config descriptor has %s, which a Docker manifest cannot carry", ErrNoDockerForm, f)
	}
	out.Config = v1.Descriptor{MediaType: types.DockerConfigJSON, Size: m.Config.Size, Digest: m.Config.Digest}
	for i, d := range m.Layers {
		lmt, ok := dockerLayerType[d.MediaType]
		if !ok {
			return nil, fmt.Errorf("%w: layer %d is %q; Docker manifests describe gzip-compressed tar layers only", ErrNoDockerForm, i+1, d.MediaType)
		}
		if f := extraField(d); f != "" {
			return nil, fmt.Errorf("%w: layer %d has %s, which a Docker manifest cannot carry", ErrNoDockerForm, i+1, f)
		}
		out.Layers = append(out.Layers, v1.Descriptor{MediaType: lmt, Size: d.Size, Digest: d.Digest, URLs: d.URLs})
	}
	return newDockerImage(img, out)
}

// fieldName says what a manifest field is, for a user who did not write it.
func fieldName(k string) string {
	switch k {
	case "annotations":
		return "annotations"
	case "subject":
		return "a subject (it is a signature, SBOM or attestation of another manifest)"
	case "artifactType":
		return "an artifactType (it is an artifact, not an image)"
	}
	return fmt.Sprintf("the field %q", k)
}

// extraField names the first field of d that a Docker schema 2
// descriptor has no place for; urls are kept, for foreign layers.
func extraField(d v1.Descriptor) string {
	switch {
	case len(d.Annotations) > 0:
		return "annotations"
	case d.ArtifactType != "":
		return "an artifactType"
	case len(d.Data) > 0:
		return "embedded data"
	case d.Platform != nil:
		return "a platform"
	}
	return ""
}

// schema2Image is an image re-described by a Docker schema 2 manifest
// written here; its config and layers are the source's.
type schema2Image struct {
	src      v1.Image
	raw      []byte
	digest   v1.Hash
	manifest *v1.Manifest
	layers   []v1.Layer
}

var _ v1.Image = (*schema2Image)(nil)

func newDockerImage(src v1.Image, m *v1.Manifest) (*schema2Image, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("writing manifest: %w", err)
	}
	digest, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("writing manifest: %w", err)
	}
	ls, err := src.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers: %w", err)
	}
	if len(ls) != len(m.Layers) {
		return nil, fmt.Errorf("manifest lists %d layers, image has %d", len(m.Layers), len(ls))
	}
	layers := make([]v1.Layer, len(ls))
	for i, l := range ls {
		layers[i] = withMediaType(l, m.Layers[i].MediaType)
	}
	return &schema2Image{src: src, raw: raw, digest: digest, manifest: m, layers: layers}, nil
}

// MediaType implements v1.Image.
func (i *schema2Image) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }

// RawManifest implements v1.Image.
func (i *schema2Image) RawManifest() ([]byte, error) { return i.raw, nil }

// Manifest implements v1.Image.
func (i *schema2Image) Manifest() (*v1.Manifest, error) { return i.manifest.DeepCopy(), nil }

// Digest implements v1.Image.
func (i *schema2Image) Digest() (v1.Hash, error) { return i.digest, nil }

// Size implements v1.Image.
func (i *schema2Image) Size() (int64, error) { return int64(len(i.raw)), nil }

// ConfigName implements v1.Image.
func (i *schema2Image) ConfigName() (v1.Hash, error) { return i.manifest.Config.Digest, nil }

// ConfigFile implements v1.Image.
func (i *schema2Image) ConfigFile() (*v1.ConfigFile, error) { return i.src.ConfigFile() }

// RawConfigFile implements v1.Image: the source's bytes, so the config
// digest the manifest names stays true.
func (i *schema2Image) RawConfigFile() ([]byte, error) { return i.src.RawConfigFile() }

// ConfigLayer is the source's config blob, which keeps a remote source's
// blob mountable instead of uploaded from bytes.
func (i *schema2Image) ConfigLayer() (v1.Layer, error) { return partial.ConfigLayer(i.src) }

// Layers implements v1.Image.
func (i *schema2Image) Layers() ([]v1.Layer, error) { return slices.Clone(i.layers), nil }

// LayerByDigest implements v1.Image.
func (i *schema2Image) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	for j, d := range i.manifest.Layers {
		if d.Digest == h {
			return i.layers[j], nil
		}
	}
	if h == i.manifest.Config.Digest {
		return i.ConfigLayer()
	}
	return nil, fmt.Errorf("image has no layer %s", h)
}

// LayerByDiffID implements v1.Image, through the config's diff IDs, which
// are in layer order.
func (i *schema2Image) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	cf, err := i.src.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if j := slices.Index(cf.RootFS.DiffIDs, h); j >= 0 && j < len(i.layers) {
		return i.layers[j], nil
	}
	return nil, fmt.Errorf("image has no layer with diff ID %s", h)
}
