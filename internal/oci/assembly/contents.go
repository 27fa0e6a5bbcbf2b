package assembly

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Contents is what an index holds below itself: every blob once,
// the image manifests, and nested indexes innermost first.
type Contents struct {
	Blobs           []v1.Layer
	Images, Indexes []source.Taggable
	// Uses[i] are the digests of the blobs images[i] names.
	Uses [][]v1.Hash
}

// ContentsOf walks idx once; it is the one walk of an index's tree, for
// publishing (blobs and manifests) and for cleanup (digests).
func ContentsOf(idx v1.ImageIndex) (*Contents, error) {
	c := &Contents{}
	seen := map[v1.Hash]bool{}
	var walk func(idx v1.ImageIndex) error
	walk = func(idx v1.ImageIndex) error {
		children, err := partial.Manifests(idx)
		if err != nil {
			return err
		}
		for _, m := range children {
			switch m := m.(type) {
			case v1.ImageIndex:
				if err := walk(m); err != nil {
					return err
				}
				c.Indexes = append(c.Indexes, m)
			case v1.Image:
				uses, err := c.addBlobs(m, seen)
				if err != nil {
					return err
				}
				c.Images = append(c.Images, m)
				c.Uses = append(c.Uses, uses)
			default:
				return fmt.Errorf("index child %T is not a manifest", m)
			}
		}
		return nil
	}
	return c, walk(idx)
}

// addBlobs adds the blobs of img not seen before and returns the digests
// of all the blobs it names.
func (c *Contents) addBlobs(img v1.Image, seen map[v1.Hash]bool) ([]v1.Hash, error) {
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	cl, err := partial.ConfigLayer(img)
	if err != nil {
		return nil, err
	}
	var uses []v1.Hash
	for _, l := range append(ls, cl) {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		uses = append(uses, d)
		if !seen[d] {
			seen[d] = true
			c.Blobs = append(c.Blobs, l)
		}
	}
	return uses, nil
}

// MountSources are the repositories the blobs were read from, for the
// token that lets a writer mount from them.
func (c *Contents) MountSources() []name.Repository {
	var out []name.Repository
	seen := map[string]bool{}
	for _, l := range c.Blobs {
		if ml, ok := l.(*remote.MountableLayer); ok {
			if r := ml.Reference.Context(); !seen[r.String()] {
				seen[r.String()] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// BlobBytes is the size of the blobs a registry holds for the index: the
// distributable ones (not foreign layers), each once.
func (c *Contents) BlobBytes() int64 {
	var n int64
	for _, l := range c.Blobs {
		if mt, err := l.MediaType(); err == nil && !mt.IsDistributable() {
			continue
		}
		if size, err := l.Size(); err == nil {
			n += size
		}
	}
	return n
}
