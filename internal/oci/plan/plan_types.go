package plan

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
)

// IndexMediaType selects the index format.
type IndexMediaType int

const (
	// OCIIndex is application/vnd.oci.image.index.v1+json (the default).
	OCIIndex IndexMediaType = iota
	// DockerManifestList is Docker's manifest list; it has no annotations.
	DockerManifestList
)

// Build is layer mode: images made from a base (or scratch) plus layers of
// local files, one per platform, which then go through the same index,
// annotation and publishing steps as joined images.
type Build struct {
	// Base is the base image or index; ignored when Scratch.
	Base    Ref
	Scratch bool
	// Platforms filters an index base's platforms; with Scratch (or a
	// single-image base) it lists the platforms to build.
	Platforms   []v1.Platform
	Layers      []layer.Spec
	Config      layer.ConfigChanges
	Compression layer.Compression
	Level       int
	Created     time.Time
	// Workspace is the absolute directory relative SRC paths are under.
	Workspace string
}

// ReusedLayer is a new layer (built from files, or an uncompressed layer
// of a docker archive) whose blob a target already held, read back and
// found to be that layer: it was neither compressed nor uploaded, and a
// target that lacks it mounts it.
type ReusedLayer struct {
	// DiffID is the digest of the layer's tar.
	DiffID string `json:"diffID"`
	// Digest is the blob's digest, as the target holds it.
	Digest string `json:"digest"`
	// From is the repository the blob was found in.
	From string `json:"from"`
}

// RepoRef names a whole repository where a RefError needs a reference:
// a layer being streamed has no digest yet.
type RepoRef struct{ name.Repository }

func (r RepoRef) Context() name.Repository { return r.Repository }

func (r RepoRef) Identifier() string { return "" }

// ErrSource is wrapped by errors about a source image that cannot be used.
var ErrSource = errors.New("source image")

// ErrNotFound is wrapped, with ErrSource, when a layout has no image by
// the tag or digest a source names, or no image at all: the input names
// something that is not there.
var ErrNotFound = errors.New("not found")

// SourceError is a source the input names that is not there or not one
// image; it matches ErrSource and its kind.
type SourceError struct {
	Src  Ref
	Kind error
	Msg  string
}

func (e *SourceError) Error() string { return fmt.Sprintf("%v %s: %s", ErrSource, e.Src, e.Msg) }

func (e *SourceError) Is(target error) bool { return target == ErrSource || target == e.Kind }

// ErrAmbiguous is wrapped, with ErrSource, when a layout source names no
// tag or digest and the layout holds more than one image.
var ErrAmbiguous = errors.New("more than one image")

// StatusOf is the HTTP status of a registry error, 0 for other errors.
func StatusOf(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}
