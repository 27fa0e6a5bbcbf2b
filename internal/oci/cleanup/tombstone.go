package cleanup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The OCI empty descriptor: a 2-byte "{}" blob.
// https://github.com/opencontainers/image-spec/blob/v1.1.1/manifest.md#guidance-for-an-empty-descriptor
const (
	emptyMediaType = "application/vnd.oci.empty.v1+json"
	emptyDigest    = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

	// TombstoneArtifactType marks tombstone manifests. Image-spec 1.1
	// requires artifactType when the config is the empty descriptor.
	TombstoneArtifactType = "application/vnd.oci-assemble.tombstone.v1"
	// TombstoneTagAnnotation holds the tag a tombstone was pushed for.
	TombstoneTagAnnotation = "io.github.oci-assemble.tombstone.tag"
	// TombstoneNonceAnnotation holds a random nonce that makes each
	// tombstone's digest unique, so deleting it by digest can only ever
	// remove the tombstone.
	TombstoneNonceAnnotation = "io.github.oci-assemble.tombstone.nonce"
)

// tombstone is a minimal OCI manifest a tag is moved onto so that the tag
// can be removed by deleting the tombstone by digest, on registries that
// refuse to delete tags. It implements remote.Taggable.
type tombstone struct {
	raw    []byte
	digest v1.Hash
}

func (t *tombstone) RawManifest() ([]byte, error) { return t.raw, nil }

func (t *tombstone) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func newTombstone(tag name.Tag, nonce string) (*tombstone, error) {
	empty := v1.Descriptor{
		MediaType: emptyMediaType,
		Size:      2,
		Digest:    v1.Hash{Algorithm: "sha256", Hex: emptyDigest[len("sha256:"):]},
	}
	m := struct {
		SchemaVersion int64             `json:"schemaVersion"`
		MediaType     types.MediaType   `json:"mediaType"`
		ArtifactType  string            `json:"artifactType"`
		Config        v1.Descriptor     `json:"config"`
		Layers        []v1.Descriptor   `json:"layers"`
		Annotations   map[string]string `json:"annotations"`
	}{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  TombstoneArtifactType,
		Config:        empty,
		// Image-spec 1.1 recommends the empty descriptor as the single layer
		// of a manifest without content, for registries that want one.
		Layers: []v1.Descriptor{empty},
		Annotations: map[string]string{
			TombstoneTagAnnotation:   tag.String(),
			TombstoneNonceAnnotation: nonce,
		},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding tombstone: %w", err)
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("hashing tombstone: %w", err)
	}
	return &tombstone{raw: raw, digest: h}, nil
}

// viaTombstone moves tag onto a fresh tombstone and removes the tombstone
// with del. The manifest the tag pointed at is never deleted. When del
// fails the tag is put back on its original manifest, so a kept tag is
// unchanged. refusal describes why the plain tag DELETE did not work.
func (d *Deleter) viaTombstone(ctx context.Context, tag name.Tag, orig *remote.Descriptor, protected map[v1.Hash]bool, refusal string, del func(context.Context, v1.Hash) error) error {
	nonce, err := d.o.nonce()
	if err != nil {
		return keep(err, "could not make a tombstone", "re-run the cleanup")
	}
	tomb, err := newTombstone(tag, nonce)
	if err != nil {
		return keep(err, "could not make a tombstone", "re-run the cleanup")
	}
	// The tombstone is the only thing ever deleted by digest: it must not be
	// anything this run published, nor what the tag points at.
	if protected[tomb.digest] || tomb.digest == orig.Digest {
		return keep(fmt.Errorf("%w: %s", ErrTombstoneProtected, tomb.digest),
			"refusing to delete by digest: the tombstone "+tomb.digest.String()+" is a protected digest",
			"this is a bug in oci-assemble; please report it")
	}

	mu, _ := d.repoLocks.LoadOrStore(tag.Context().Name(), &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	// Another tag's tombstone may have held the lock for a while: the tag
	// is re-read right before it is moved.
	if err := d.checkUnmoved(ctx, tag, orig.Digest); err != nil {
		return err
	}
	w, err := d.pusher.Writer(ctx, tag.Context())
	if err != nil {
		return keep(err, "registry refused the tag DELETE ("+refusal+") and authenticating for the tombstone failed ("+describe(err)+")", fixFor(err, tag.Context()))
	}
	cfg := static.NewLayer([]byte("{}"), emptyMediaType)
	if err := w.WriteBlob(ctx, cfg); err != nil {
		return keep(err, "registry refused the tag DELETE ("+refusal+") and uploading the tombstone's empty config failed ("+describe(err)+")", fixFor(err, tag.Context()))
	}
	if err := w.Put(ctx, tag, tomb); err != nil {
		return keep(err, "registry refused the tag DELETE ("+refusal+") and moving the tag onto a tombstone failed ("+describe(err)+")",
			tombstoneFix(err, tag))
	}

	if err := del(ctx, tomb.digest); err != nil {
		if rerr := w.PutManifest(ctx, tag, orig.MediaType, orig.Manifest); rerr != nil {
			return keep(err, fmt.Sprintf("registry refused the tag DELETE (%s), deleting the tombstone failed (%s) and restoring the tag failed too (%s): the tag now points at tombstone %s",
				refusal, reasonOf(err), describe(rerr), tomb.digest),
				"re-push "+tag.String()+" or delete it by hand")
		}
		return keepWithFix(err, "registry refused the tag DELETE ("+refusal+") and "+reasonOf(err)+" (tag restored)", tag)
	}
	return nil
}

// deleteByDigest deletes a tombstone by digest; distribution removes the
// tags pointing at it with it.
func (d *Deleter) deleteByDigest(ctx context.Context, repo name.Repository, h v1.Hash) error {
	w, err := d.pusher.Writer(ctx, repo)
	if err == nil {
		err = w.Delete(ctx, repo.Digest(h.String()))
	}
	if err != nil {
		reason := "registry refused to delete the tombstone by digest (" + describe(err) + ")"
		fix := "enable deletes on the registry (distribution: storage.delete.enabled: true) or delete the tag in its UI"
		switch statusOf(err) {
		case http.StatusUnauthorized, http.StatusForbidden:
			fix = "give the credentials for " + repo.String() + " delete access"
		}
		return keep(err, reason, fix)
	}
	return nil
}

func tombstoneFix(err error, tag name.Tag) string {
	switch statusOf(err) {
	case http.StatusUnauthorized, http.StatusForbidden:
		return "give the credentials for " + tag.Context().String() + " push and delete access"
	case http.StatusBadRequest, http.StatusConflict, http.StatusMethodNotAllowed:
		return "the registry may have immutable tags; delete the tag in its UI"
	}
	return fixFor(err, tag.Context())
}

// reasonOf returns the reason of a keptError, or the error's text.
func reasonOf(err error) string {
	if ke, ok := asKept(err); ok {
		return ke.reason
	}
	return describe(err)
}

// keepWithFix keeps err's fix when it has one.
func keepWithFix(err error, reason string, tag name.Tag) error {
	fix := fixFor(err, tag.Context())
	if ke, ok := asKept(err); ok {
		if ke.fix != "" {
			fix = ke.fix
		}
		err = ke.err
	}
	return keep(err, reason, fix)
}
