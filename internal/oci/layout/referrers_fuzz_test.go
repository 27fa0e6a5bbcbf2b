package layout

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"
)

// FuzzReferrerDescriptor feeds a registry's referrer manifest, untrusted
// JSON, to the descriptor and subject readers: no panic, and a
// descriptor's digest and size are the bytes'.
func FuzzReferrerDescriptor(f *testing.F) {
	f.Add(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/spdx+json","config":{"mediaType":"application/vnd.oci.empty.v1+json"},"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":2},"annotations":{"a":"b"}}`)
	f.Add(`{"config":{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json"}}`)
	f.Add(`{"subject":{"digest":"sha256:zz"}}`)
	f.Add(`[]`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, raw string) {
		_ = SubjectOf([]byte(raw))
		d, err := source.ReferrerDescriptor([]byte(raw), types.OCIManifestSchema1)
		if err != nil {
			return
		}
		if d.Size != int64(len(raw)) {
			t.Errorf("size %d, want %d", d.Size, len(raw))
		}
	})
}
