package push

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PutReferrer PUTs a manifest that has a subject by reference, and reports
// whether the registry indexed it for the referrers API: a registry that
// does answers with an OCI-Subject header naming the subject's digest
// (distribution-spec "Pushing Manifests with Subject",
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-manifests-with-subject).
// Without that header the client must keep the referrers tag schema's
// fallback index itself.
func (w *Writer) PutReferrer(ctx context.Context, ref name.Reference, mt types.MediaType, raw []byte) (indexed bool, err error) {
	u := w.url("/manifests/" + ref.Identifier())
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(raw))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", string(mt))
	resp, err := w.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK, http.StatusCreated, http.StatusAccepted); err != nil {
		return false, err
	}
	return resp.Header.Get("OCI-Subject") != "", nil
}

// GetManifest reads a manifest of w's repository by reference: its bytes,
// media type and digest, or a *transport.Error (404 when it is not
// there).
func (w *Writer) GetManifest(ctx context.Context, ref name.Reference, accept ...types.MediaType) ([]byte, types.MediaType, v1.Hash, error) {
	u := w.url("/manifests/" + ref.Identifier())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), http.NoBody)
	if err != nil {
		return nil, "", v1.Hash{}, err
	}
	if len(accept) == 0 {
		req.Header.Set("Accept", acceptManifests)
	}
	for _, mt := range accept {
		req.Header.Add("Accept", string(mt))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, "", v1.Hash{}, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, "", v1.Hash{}, err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
	if err != nil {
		return nil, "", v1.Hash{}, err
	}
	if len(raw) > maxManifest {
		return nil, "", v1.Hash{}, fmt.Errorf("%s: manifest larger than %d bytes", ref, maxManifest)
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, "", v1.Hash{}, err
	}
	return raw, types.MediaType(resp.Header.Get("Content-Type")), h, nil
}

// maxManifest is the largest manifest GetManifest reads: the distribution
// spec lets registries refuse manifests over 4 MiB
// (https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-manifests).
const maxManifest = 4 << 20
