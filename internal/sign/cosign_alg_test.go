package sign_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
	"github.com/oci-assemble/oci-assemble/internal/sign"
)

// TestCosignVerifiesKeyAlgorithms signs with RSA and Ed25519 keys, besides
// the ECDSA P-256 keys cosign makes, in both formats.
func TestCosignVerifiesKeyAlgorithms(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cosign against a registry")
	}
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		name string
		key  crypto.Signer
	}{{"ed25519", edKey}, {"rsa", rsaKey}} {
		t.Run(k.name, func(t *testing.T) {
			der, err := x509.MarshalPKCS8PrivateKey(k.key)
			if err != nil {
				t.Fatal(err)
			}
			pubDER, err := x509.MarshalPKIXPublicKey(k.key.Public())
			if err != nil {
				t.Fatal(err)
			}
			s, err := sign.New(context.Background(), sign.Options{Mode: sign.ModeKey, Key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})})
			if err != nil {
				t.Fatal(err)
			}
			p := pushIndex(t, reg, "alg/"+k.name)
			signAll(t, s, p)
			pub := keyArgs(t, writeFile(t, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})))
			verifyAll(t, p, pub)

			legacy := pushIndex(t, reg, "alg/legacy-"+k.name)
			ref := legacy.repo.Digest(legacy.index.Digest.String())
			sig, err := s.SignLegacy(context.Background(), ref)
			if err != nil {
				t.Fatal(err)
			}
			tag, err := sign.LegacyTag(ref)
			if err != nil {
				t.Fatal(err)
			}
			img, err := sign.AppendLegacy(nil, sig)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(tag, img); err != nil {
				t.Fatal(err)
			}
			for _, c := range cosigns {
				mustVerify(t, registrytest.SigstoreBinary(t, c), append([]string{"verify"}, append(pub, legacy.ref(legacy.index))...)...)
			}
		})
	}
}
