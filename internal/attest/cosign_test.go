package attest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// cosignBinary finds cosign: COSIGN, else PATH, else GOPATH/bin.
func cosignBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("COSIGN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("cosign"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			if p := filepath.Join(dir, "bin", "cosign"); fileExists(p) {
				return p
			}
		}
	}
	registrytest.MissingTool(t, "cosign not installed (set COSIGN or put cosign on PATH; go install github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3)")
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// dsseBundle signs statement as a DSSE envelope with key and wraps it in
// a Sigstore bundle v0.3 that names the key by hint only: the shape of a
// key-signed attestation without a transparency log.
// https://github.com/secure-systems-lab/dsse/blob/master/protocol.md
// https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_bundle.proto
func dsseBundle(t *testing.T, key *ecdsa.PrivateKey, statement []byte) []byte {
	t.Helper()
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(PayloadType), PayloadType, len(statement), statement)
	sum := sha256.Sum256([]byte(pae))
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{
		"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
		"verificationMaterial": map[string]any{
			"publicKey":   map[string]any{"hint": ""},
			"tlogEntries": []any{},
		},
		"dsseEnvelope": map[string]any{
			"payload":     base64.StdEncoding.EncodeToString(statement),
			"payloadType": PayloadType,
			"signatures":  []any{map[string]any{"sig": base64.StdEncoding.EncodeToString(sig)}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCosignVerifiesStatements signs each statement as the signer will
// and has the real cosign check it: verify-blob-attestation matches the
// predicate type (--type) and the subject digest against the blob.
func TestCosignVerifiesStatements(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cosign")
	}
	t.Parallel()
	cosign := cosignBinary(t)
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "cosign.pub")
	root := filepath.Join(dir, "trusted_root.json")
	write(t, pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	// cosign wants a trusted root even for a key; an empty one trusts no
	// log, CA or timestamp authority.
	write(t, root, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[],"certificateAuthorities":[],"ctlogs":[],"timestampAuthorities":[]}`))

	// The blob stands for the manifest: the statement's subject is its
	// digest.
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)
	blob := filepath.Join(dir, "manifest.json")
	write(t, blob, manifest)
	sum := sha256.Sum256(manifest)
	digest := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sum)}

	prov := sampleProvenance(gitHubEnv)
	prov.Index.Digest = digest
	provStatement, err := Provenance(prov)
	if err != nil {
		t.Fatal(err)
	}
	sbom := sampleSBOM()
	sbom.Image.Digest = digest
	sbomStatement, err := SBOM(sbom)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.json")
	write(t, other, []byte(`{}`))
	tests := []struct {
		name, typ, blob string
		statement       []byte
		wantErr         string // empty: cosign verifies it
	}{
		{name: "provenance", typ: "slsaprovenance1", blob: blob, statement: provStatement},
		{name: "sbom", typ: "spdxjson", blob: blob, statement: sbomStatement},
		// Controls: cosign must refuse the wrong type and another
		// artifact, or this test proves nothing about either.
		{name: "provenance as spdx", typ: "spdxjson", blob: blob, statement: provStatement, wantErr: "invalid predicate type"},
		{name: "sbom as provenance", typ: "slsaprovenance1", blob: blob, statement: sbomStatement, wantErr: "invalid predicate type"},
		{name: "another artifact", typ: "slsaprovenance1", blob: other, statement: provStatement, wantErr: "digests do not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bundle := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".bundle.json")
			write(t, bundle, dsseBundle(t, key, tt.statement))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, cosign, "verify-blob-attestation", "--key", pub, "--bundle", bundle, "--type", tt.typ,
				"--trusted-root", root, "--insecure-ignore-tlog", tt.blob)
			// Nothing here reaches the public TUF repository.
			cmd.Env = append(os.Environ(), "TUF_ROOT="+filepath.Join(dir, "tuf"))
			out, err := cmd.CombinedOutput()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("cosign verify-blob-attestation --type %s: %v\n%s", tt.typ, err, out)
			case tt.wantErr != "" && (err == nil || !strings.Contains(string(out), tt.wantErr)):
				t.Fatalf("cosign verify-blob-attestation --type %s: err = %v, want a refusal with %q\n%s", tt.typ, err, tt.wantErr, out)
			}
		})
	}
}

func write(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
